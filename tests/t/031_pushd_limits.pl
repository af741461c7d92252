# Connection limits under a burst: with --max-connections and --max-connections-per-ip
# reached, 5,000 more attempts from eight source addresses are all refused (closed at
# once), none slips in, the clients already connected keep getting changes, and
# /metrics counts exactly what was refused.  Then the limits that SIGHUP reloads
# (--metrics-allow, --allowed-origins, --max-connections), the settings pushd refuses,
# and the warning for plain text beyond loopback.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use HTTP::Tiny;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use PushdHelper;

PushdHelper::require_pushd();

my $node = PostgreSQL::Test::Cluster->new('pushd_limits');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name) VALUES ('dark-mode');
});

my $max = 100;
my $per_ip = 60;
my $conf = "$PostgreSQL::Test::Utils::tmp_check/pushd-limits.conf";
sub write_conf { open my $fh, '>', $conf or die $!; print $fh @_; close $fh; }
write_conf("max-connections = $max\nmax-connections-per-ip = $per_ip\nhandshake-timeout = 5\n");
my $pushd = PushdHelper->start($node, args => [ '--config', $conf ]);
my $port = $pushd->port;
my $F = 'PushdHelper::RawClient';

# hold(from, n): n upgraded raw clients from that source address, snapshot read.
sub hold
{
	my ($from, $n) = @_;
	my @held;
	for (1 .. $n)
	{
		my $raw = $F->connect(port => $port, from => $from);
		my ($st) = $raw->upgrade(timeout => 5);
		my $f = $st eq '101' ? $raw->read_frame(5) : undef;
		push @held, $raw if $st eq '101' && $f && ($f->{payload} // '') =~ /snapshot/;
	}
	return @held;
}

# attempt(from): one connection that asks for an upgrade: 'accepted' (an HTTP answer) or
# 'refused' (closed with no answer).
sub attempt
{
	my ($from) = @_;
	my $raw = $F->connect(port => $port, from => $from);
	my ($st) = $raw->upgrade(timeout => 5);
	$raw->close;
	return $st =~ /^\d+$/ ? 'accepted' : 'refused';
}

# scrape: /metrics from 127.0.0.10 (127.0.0.1 will be at its own limit), retried while a
# close the test just made has not reached pushd yet.
sub scrape
{
	my $http = HTTP::Tiny->new(timeout => 5, keep_alive => 0, local_address => '127.0.0.10');
	for (1 .. 50)
	{
		my $res = $http->get("http://127.0.0.1:$port/metrics");
		return PushdHelper::parse_metrics($res->{content}) if $res->{status} == 200;
		sleep 0.1;
	}
	return {};
}

my @held = hold('127.0.0.1', $per_ip);
is(scalar @held, $per_ip, "$per_ip clients from 127.0.0.1 are let in");
is(attempt('127.0.0.1'), 'refused', 'one more from 127.0.0.1: refused (--max-connections-per-ip)');
push @held, hold('127.0.0.2', $max - $per_ip - 1);
my $m0 = scrape();
push @held, hold('127.0.0.2', 1);
is(scalar @held, $max, "and " . ($max - $per_ip) . " from 127.0.0.2: $max in all");
is(attempt('127.0.0.3'), 'refused', 'one more from 127.0.0.3: refused (--max-connections)');

# burst(n, @from): n connection attempts, up to 250 at a time, non-blocking, each sending
# an upgrade request; returns (accepted: any answer, refused, unanswered).
sub burst
{
	my ($n, @from) = @_;
	my ($upgraded, $refused, $other, $unanswered) =
	  PushdHelper::RawClient::burst(port => $port, from => \@from, count => $n, batch => 250);
	my $accepted = $other;
	$accepted += $_ for values %$upgraded;
	return ($accepted, $refused, $unanswered);
}

my $t0 = time;
my ($accepted, $refused, $unanswered) = burst(5000, map { "127.0.0.$_" } 2 .. 9);
my $elapsed = time - $t0;
note(sprintf('burst: %d accepted, %d refused, %d unanswered in %.1f s', $accepted, $refused, $unanswered, $elapsed));
is($accepted, 0, '5,000 attempts beyond the limit: none accepted');
is($refused, 5000, '... all 5,000 refused (closed before any answer)');
cmp_ok($elapsed, '<', 120, sprintf('... in %.1f s', $elapsed));
ok($pushd->alive, 'pushd is running');

# The clients held throughout still get changes.
$node->safe_psql('postgres', q{UPDATE toggles.features SET is_active = true WHERE name = 'dark-mode'});
my $v = PushdHelper::current_version($node);
my $got = grep { my $f = $_->read_frame(10) // {}; ($f->{payload} // '') =~ /"type":"change","version":$v/ } @held;
is($got, $max, "all $max held clients got the change (version $v)");

(pop @held)->close;    # room for one scrape
my $m1 = scrape();
my $d = sub { my ($name) = @_; ($m1->{$name} // 0) - ($m0->{$name} // 0) };
is($d->('pushd_connections_refused_total{limit="max-connections"}'), 5001,
	'pushd_connections_refused_total{limit="max-connections"} rose by 5,001 (the burst and the one before)');
is($d->('pushd_connections_accepted_total'), 2, 'pushd_connections_accepted_total: only the last held client and this scrape');
is($m1->{pushd_connections}, $max, "pushd_connections: $max (held, less one, plus the scrape)");

# Per address: with room in total, 127.0.0.1 is still at its own limit.
$_->close for splice(@held, $per_ip);    # the 39 from 127.0.0.2 leave
PushdHelper::wait_for([], sub { (scrape()->{pushd_connections} // 0) <= $per_ip + 1 }, 10);
my $pm0 = scrape()->{'pushd_connections_refused_total{limit="max-connections-per-ip"}'};
($accepted, $refused, $unanswered) = burst(1000, '127.0.0.1');
is($accepted, 0, '1,000 attempts from 127.0.0.1, at its limit: none accepted');
is($refused, 1000, '... all refused');
is((scrape()->{'pushd_connections_refused_total{limit="max-connections-per-ip"}'} // 0) - $pm0, 1000,
	'pushd_connections_refused_total{limit="max-connections-per-ip"} rose by 1,000');
my @more = hold('127.0.0.5', 3);
is(scalar @more, 3, 'other addresses still get in');
$_->close for @more, @held;
ok(PushdHelper::wait_for([], sub { ($pushd->metric('pushd_connections') // -1) == 1 }, 10),
	'when everybody has left, pushd_connections is 1 (the scrape)');

# --- reloadable limits --------------------------------------------------------------------
sub http_from
{
	my ($from, $path, %headers) = @_;
	my $res = HTTP::Tiny->new(timeout => 5, local_address => $from)
	  ->get("http://127.0.0.1:$port$path", { headers => \%headers });
	return $res->{status};
}
is(http_from('127.0.0.2', '/metrics'), 200, '/metrics from 127.0.0.2: 200 (default: loopback)');
write_conf("max-connections = 5\nmax-connections-per-ip = 0\nhandshake-timeout = 5\n"
	  . "metrics-allow = 127.0.0.1/32, ::1\n"
	  . "allowed-origins = 'https://app.example.com, http://localhost:3000'\n");
kill 'HUP', $pushd->pid;
ok(PushdHelper::wait_for([], sub { $pushd->log_contents =~ /settings reloaded/ }, 10), 'SIGHUP: reloaded')
  or diag($pushd->log_contents);
my $mr0 = $pushd->metric('pushd_metrics_refused_total');
is(http_from('127.0.0.2', '/metrics'), 403, '/metrics from 127.0.0.2 after metrics-allow = 127.0.0.1/32: 403');
is(http_from('127.0.0.1', '/metrics'), 200, '... from 127.0.0.1: 200');
is(http_from('127.0.0.2', '/healthz'), 200, '/healthz is not restricted by default');
is($pushd->metric('pushd_metrics_refused_total') - $mr0, 1, 'pushd_metrics_refused_total counts the 403');

# /healthz can be restricted too (a public node behind a load balancer on a known subnet).
write_conf("max-connections = 5\nmax-connections-per-ip = 0\nhandshake-timeout = 5\n"
	  . "metrics-allow = 127.0.0.1/32, ::1\nhealthz-allow = 127.0.0.1/32\n"
	  . "allowed-origins = 'https://app.example.com, http://localhost:3000'\n");
kill 'HUP', $pushd->pid;
ok(PushdHelper::wait_for([], sub { (() = $pushd->log_contents =~ /settings reloaded/g) >= 2 }, 10),
	'SIGHUP: healthz-allow reloaded');
is(http_from('127.0.0.2', '/healthz'), 403, '/healthz from 127.0.0.2 after healthz-allow = 127.0.0.1/32: 403');
is(http_from('127.0.0.1', '/healthz'), 200, '... from 127.0.0.1: 200');
is($pushd->metric('pushd_healthz_refused_total'), 1, 'pushd_healthz_refused_total counts the 403');

my $or0 = $pushd->metric('pushd_origins_refused_total');
for my $case ([ 'https://app.example.com', '101' ], [ 'HTTPS://APP.EXAMPLE.COM', '101' ],
	[ 'http://localhost:3000', '101' ], [ 'https://evil.example', '403' ], [ 'null', '403' ],
	[ 'https://app.example.com.evil.example', '403' ], [ 'http://app.example.com', '403' ],
	[ 'https://app.example.com/', '403' ], [ undef, '101' ])
{
	my ($origin, $want) = @$case;
	my $raw = $F->connect(port => $port);
	my ($st) = $raw->upgrade(headers => [ defined $origin ? (Origin => $origin) : () ], timeout => 5);
	is($st, $want, 'Origin ' . ($origin // '(none: not a browser)') . ": $want");
	$raw->close;
}
is($pushd->metric('pushd_origins_refused_total') - $or0, 5, 'pushd_origins_refused_total counts the 403s');

# max-connections lowered to 5 by the reload.
my @five = hold('127.0.0.1', 5);
is(scalar @five, 5, 'after reloading max-connections = 5: five get in');
is(attempt('127.0.0.4'), 'refused', '... the sixth is refused');
$_->close for @five;

# --- settings pushd refuses ----------------------------------------------------------------
my @base = ('--db', $node->connstr('postgres'), '--listen', '127.0.0.1:' . PushdHelper::free_port());
for my $case (
	[ 'tls-key', [ @base, '--tls-cert', '/nonexistent.pem' ] ],
	[ 'tls-cert', [ @base, '--tls-key', '/nonexistent.pem' ] ],
	[ 'metrics-allow', [ @base, '--metrics-allow', '127.0.0.1/33' ] ],
	[ 'metrics-allow', [ @base, '--metrics-allow', 'localhost' ] ],
	[ 'metrics-allow', [ @base, '--metrics-allow', '10.0.0.0/8,' ] ],
	[ 'allowed-origins', [ @base, '--allowed-origins', 'app.example.com' ] ],
	[ 'allowed-origins', [ @base, '--allowed-origins', 'https://a.example/path' ] ],
	[ 'allowed-origins', [ @base, '--allowed-origins', 'https://a.example,,https://b.example' ] ],
	[ 'max-connections', [ @base, '--max-connections', '0' ] ],
	[ 'client-messages-per-second', [ @base, '--client-messages-per-second', '-1' ] ],
	[ 'max-catchups-per-second', [ @base, '--max-catchups-per-second', '0' ] ],
	[ 'handshake-timeout', [ @base, '--handshake-timeout', '0' ] ])
{
	my ($setting, $args) = @$case;
	my ($exit, $output) = PushdHelper->run_once(args => $args, timeout => 15);
	is($exit, 2, "@$args[4 .. $#$args]: exit code 2");
	like($output, qr/\Q$setting\E/, "... the message names $setting") or diag($output);
}
{
	my ($exit, $output) = PushdHelper->run_once(
		args => [ @base, '--tls-cert', '/nonexistent.pem', '--tls-key', '/nonexistent.pem' ], timeout => 15);
	is($exit, 1, 'a certificate that cannot be read: exit code 1');
	like($output, qr/TLS certificate "\/nonexistent.pem" unusable/, '... naming the file');
}

# --- plain text beyond loopback: a warning --------------------------------------------------
for my $case ([ '0.0.0.0', 1 ], [ '127.0.0.1', 0 ])
{
	my ($host, $warns) = @$case;
	my $log = "$PostgreSQL::Test::Utils::tmp_check/pushd-warn-$host.log";
	my $pid = PushdHelper::spawn([ PushdHelper::binary(), '--db', $node->connstr('postgres'),
		'--listen', "$host:" . PushdHelper::free_port(), '--allow-anonymous', '--track-connections=false' ], $log);
	PushdHelper::wait_for([], sub { PushdHelper::slurp($log) =~ /listening on/ }, 10);
	kill 'TERM', $pid;
	waitpid($pid, 0);
	my $text = PushdHelper::slurp($log);
	if ($warns)
	{
		like($text, qr/warn .*listening on \Q$host\E:\d+ without TLS/, "--listen $host:PORT without TLS: a warning");
	}
	else
	{
		unlike($text, qr/without TLS/, "--listen $host:PORT: no warning");
	}
}

is($pushd->stop, 0, 'SIGTERM: exit status 0');
$node->stop;
done_testing();
