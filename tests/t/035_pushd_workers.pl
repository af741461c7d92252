# --workers 2: both workers accept on the one port (SO_REUSEPORT) and serve, each with its
# own database link and connection rows (node NAME/w1, NAME/w2); a flip reaches the clients
# of both; a worker killed with SIGKILL, and one hung with SIGSTOP past --worker-timeout, is
# replaced and its clients get the current state again; SIGHUP reaches every worker;
# --max-connections-per-ip is exact across the workers under a burst from 8 addresses; /metrics from either
# worker shows the same service totals; /healthz answers 503 from every worker while one
# worker's database link is down, and that worker stops accepting meanwhile; an If-None-Match
# of a version no worker has waits --future-wait for it: 200 with the new body when it comes,
# else 503 with Retry-After, never an older body;
# SIGTERM drains every client with 1001 and exits 0.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use PushdHelper;

PushdHelper::require_pushd();
plan skip_all => 'Mojolicious is not installed' unless $PushdHelper::HAVE_MOJO;

my $t_start = time;
my $node = PostgreSQL::Test::Cluster->new('pushd_workers');
$node->init;
# TCP, so that a worker's database session can be told from the other's by its port.
$node->append_conf('postgresql.conf', "listen_addresses = '127.0.0.1'\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name) VALUES ('dark-mode');
});
sub sql { return $node->safe_psql('postgres', $_[0]); }

my $conf = "$PostgreSQL::Test::Utils::tmp_check/pushd-workers.conf";
sub write_conf { open my $fh, '>', $conf or die $!; print $fh @_; close $fh; }
write_conf("max-connections-per-ip = 10\n");
my $db = 'host=127.0.0.1 port=' . $node->port . ' dbname=postgres';
my $pushd = PushdHelper->start($node, node => 'wk', db => $db,
	args => [ '--workers', '2', '--worker-timeout', '2', '--config', $conf,
		'--register-interval', '50', '--reconnect-min', '4000', '--reconnect-max', '4000',
		'--future-wait', '3000', '--max-catchups-per-second', '4' ]);
my $port = $pushd->port;

# worker_pid(k): the pid of worker k's latest start, from the parent's log.
sub worker_pid
{
	my ($k) = @_;
	my @pids = $pushd->log_contents =~ /worker $k started \(pid (\d+)\)/g;
	return $pids[-1];
}
sub starts { my ($k) = @_; my @s = $pushd->log_contents =~ /worker $k started/g; return scalar @s; }
my %first = (1 => worker_pid(1), 2 => worker_pid(2));
ok($first{1} && $first{2} && $first{1} != $first{2}, "two workers started (pids $first{1}, $first{2})");

# --- both serve ---------------------------------------------------------------------------
my $epoch = sql('SELECT toggles.epoch()');
my @clients = map { PushdHelper::Client->connect($pushd->ws_url, local_address => '127.0.0.' . (2 + $_ % 4)) } 1 .. 20;
ok(PushdHelper::wait_for(\@clients, sub { !grep { $_->count < 1 } @_ }, 30, 'snapshots'),
	'20 clients have their snapshot');
my %rows;
PushdHelper::wait_for([], sub {
	%rows = map { split /\|/ } split /\n/, sql(q{SELECT node, count(*) FROM toggles.connections GROUP BY node});
	my $n = 0;
	$n += $_ for values %rows;
	$n == 20;
}, 10);
note('connection rows per node: ' . join(', ', map { "$_=$rows{$_}" } sort keys %rows));
is(join(',', sort keys %rows), 'wk/w1,wk/w2', 'connection rows of both workers (nodes wk/w1 and wk/w2)');

sql(q{UPDATE toggles.features SET is_active = true WHERE name = 'dark-mode'});
my $v1 = PushdHelper::current_version($node);
ok(PushdHelper::all_reached(\@clients, $v1, 10), "the flip (version $v1) reached all 20 clients");

# --- /metrics and /healthz from either worker ----------------------------------------------
my (%seen, %totals, %labelled, %sent);
sleep 0.3;    # a heartbeat: every worker has published its values
for (1 .. 30)
{
	my $m = $pushd->metrics;
	my $w = $m->{pushd_worker_answering} // 0;
	$seen{$w}++;
	$totals{ $m->{pushd_service_clients} // -1 }++;
	$labelled{ ($m->{'pushd_clients{worker="1"}'} // -100) + ($m->{'pushd_clients{worker="2"}'} // -100) }++;
	$sent{ $m->{pushd_messages_sent_total} // -1 }++;
	last if keys %seen == 2 && $_ >= 10;
}
is(join(',', sort keys %seen), '1,2', '/metrics was answered by both workers');
is(join(',', keys %totals), '20', 'pushd_service_clients is 20 from every answer');
is(join(',', keys %labelled), '20', 'pushd_clients{worker="1"} + pushd_clients{worker="2"}: 20 from every answer');
is(scalar(keys %sent), 1, 'pushd_messages_sent_total, summed over the workers, is the same from every answer ('
	. join(',', keys %sent) . ')');
my $m = $pushd->metrics;
is($m->{pushd_workers}, 2, 'pushd_workers 2');
is($m->{'pushd_worker_database_up{worker="1"}'} + $m->{'pushd_worker_database_up{worker="2"}'}, 2,
	'pushd_worker_database_up of both workers 1');

# --- a worker killed ------------------------------------------------------------------------
# The service's counters never go back when a worker dies (its counts are kept).
sleep 0.3;    # a heartbeat: every worker has published its counters
my $accepted0 = $pushd->metrics->{pushd_service_connections_accepted_total} // -1;
cmp_ok($accepted0, '>=', 20, "pushd_service_connections_accepted_total $accepted0 (20 clients and the scrapes)");
sleep 0.3;    # and that scrape's own connection is published too
# Which clients were on worker 1: those that lose their connection.
kill 'KILL', $first{1};
ok(PushdHelper::wait_for([], sub { starts(1) == 2 }, 10), 'worker 1 killed (SIGKILL): the parent starts it again');
my $w1_first = $first{1};
like($pushd->log_contents, qr/worker 1 \(pid $w1_first\) killed by signal 9; restarting/, '... and says why');
my @lost = grep { $_->closed } @clients;
PushdHelper::wait_for(\@clients, sub { @lost = grep { $_->closed } @_; @lost == ($rows{'wk/w1'} // -1) }, 5);
is(scalar @lost, $rows{'wk/w1'}, "its $rows{'wk/w1'} clients lost their connection");
my @kept = grep { !$_->closed } @clients;
$pushd->wait_health(200, 15);
sql(q{UPDATE toggles.features SET is_active = false WHERE name = 'dark-mode'});
my $v2 = PushdHelper::current_version($node);
my @back = map { PushdHelper::Client->connect($pushd->ws_url("/v1/stream?since=$v1&epoch=$epoch"),
	local_address => '127.0.0.' . (2 + $_ % 4)) } 1 .. scalar @lost;
ok(PushdHelper::all_reached([ @back, @kept ], $v2, 15),
	"they reconnect and resume: the next flip (version $v2) reaches them and the others");
my $state_ok = !grep {
	my $c = $_;
	my ($t) = grep { ($_->{name} // '') eq 'dark-mode' } map { @{ $_->{toggles} // [] } } $c->messages;
	!$t || $t->{active};
} @back;
ok($state_ok, '... with dark-mode off');
ok(PushdHelper::wait_for([], sub {
	my $m = $pushd->metrics;
	($m->{pushd_service_connections} // -1) == 21 && ($m->{'pushd_worker_starts_total{worker="1"}'} // 0) == 2;
}, 5), 'pushd_service_connections is 21 (20 clients and the scrape: the dead worker\'s count was dropped); worker 1 started twice');

# (each worker's part as of its last heartbeat: wait for the reconnections to be published)
my ($accepted1, $accepted1b) = (-1, -1);
PushdHelper::wait_for([], sub {
	my $m = $pushd->metrics;
	$accepted1 = $m->{pushd_service_connections_accepted_total} // -1;
	$accepted1b = $m->{pushd_connections_accepted_total} // -1;
	$accepted1 >= $accepted0 + @lost && $accepted1b >= $accepted0 + @lost;
}, 3);
cmp_ok($accepted1, '>=', $accepted0 + scalar(@lost),
	"... and pushd_service_connections_accepted_total went on from there ($accepted1), worker 1's count kept");
cmp_ok($accepted1b, '>=', $accepted0 + scalar(@lost),
	"... as did pushd_connections_accepted_total ($accepted1b), summed over the workers like every counter");

# Killed again within 10 s of its start: the restart waits twice as long (backoff).
my $w1_second = worker_pid(1);
kill 'KILL', $w1_second;
ok(PushdHelper::wait_for([], sub { starts(1) == 3 }, 10), 'worker 1 killed again: started a third time');
like($pushd->log_contents, qr/worker 1 \(pid $w1_first\) killed by signal 9; restarting in 100 ms.*worker 1 \(pid $w1_second\) killed by signal 9; restarting in 200 ms/s,
	'... after 200 ms, twice the first restart\'s 100 ms: it keeps dying young');
$pushd->wait_health(200, 15);

# --- a worker hung ------------------------------------------------------------------------
my $w2 = worker_pid(2);
my $t_stop = time;
kill 'STOP', $w2;
ok(PushdHelper::wait_for([], sub { starts(2) == 2 }, 10), 'worker 2 stopped (SIGSTOP): killed and started again');
my $took = time - $t_stop;
# Its last heartbeat (every 250 ms) may be up to 250 ms older than the stop.
cmp_ok($took, '>=', 1.75, sprintf('... after its heartbeat deadline (--worker-timeout 2: %.1f s)', $took));
like($pushd->log_contents, qr/worker 2 \(pid $w2\) gave no heartbeat for \d+ ms/, '... and the log says why');
$pushd->wait_health(200, 15);
$_->close for @back, @kept;

# --- SIGHUP reaches every worker; the per-address limit is exact across them ---------------
# burst(\@from, n): n connections at once from each address (interleaved), each asking for
# an upgrade; returns ({address => upgraded}, refused, unanswered), the upgraded ones kept
# open until every socket is judged.
sub burst
{
	my ($from_list, $n) = @_;
	my ($upgraded, $refused, $other, $unanswered) =
	  PushdHelper::RawClient::burst(port => $port, from => $from_list, count => $n * @$from_list);
	return ($upgraded, $refused + $other, $unanswered);
}

# accepted_text: "address=upgraded ..." in address order.
sub accepted_text { my ($acc) = @_; return join(' ', map { "$_=" . ($acc->{$_} // 0) } sort keys %$acc); }
my @eight = map { "127.0.0.$_" } 20 .. 27;
my ($acc, $ref, $left) = burst(\@eight, 40);
is(accepted_text($acc), join(' ', map { "$_=10" } @eight),
	'--max-connections-per-ip 10, 40 connections at once from each of 8 addresses: exactly 10 upgraded from each');
is("$ref/$left", '240/0', '... the other 240 refused');

my $reloads = () = $pushd->log_contents =~ /settings reloaded/g;
write_conf("max-connections-per-ip = 13\n");
kill 'HUP', $pushd->pid;
ok(PushdHelper::wait_for([], sub { my $n = () = $pushd->log_contents =~ /settings reloaded/g; $n == $reloads + 2 }, 10),
	'SIGHUP to the parent: both workers reload');
PushdHelper::wait_for([], sub { ($pushd->metric('pushd_service_connections') // -1) == 1 }, 10);
($acc, $ref, $left) = burst([ '127.0.0.28' ], 40);
is(accepted_text($acc) . " $ref/$left", '127.0.0.28=13 27/0', '... to --max-connections-per-ip 13: exactly 13 of 40 upgraded');

# The refusals of both bursts, summed over the workers, from either worker (each worker's
# part as of its last heartbeat: 250 ms).
my %refused;
PushdHelper::wait_for([], sub {
	my $m = $pushd->metrics;
	$refused{ $m->{pushd_worker_answering} // 0 } = $m->{'pushd_service_connections_refused_total{limit="max-connections-per-ip"}'};
	keys %refused == 2 && !grep { ($_ // 0) != 267 } values %refused;
}, 10);
is(join(',', map { "$_=" . ($refused{$_} // 'none') } sort keys %refused), '1=267,2=267',
	'pushd_service_connections_refused_total{limit="max-connections-per-ip"}: 267 (240 + 27) from either worker');

# --- /healthz 503 from every worker while one worker's link is down --------------------------
# The backend of worker 1's session: its client port is the worker's socket to PostgreSQL.
my $w1 = worker_pid(1);
my $pgport = $node->port;
my ($lport) = `ss -tnpH state established '( dport = :$pgport )' 2>/dev/null` =~ /127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:$pgport\s+users:\(\("[^"]*",pid=$w1,/;
ok($lport, "worker 1's database session found (local port " . ($lport // 'none') . ')');
PushdHelper::wait_for([], sub { $pushd->health->{http_status} == 200 }, 10);
my $stops = () = $pushd->log_contents =~ /w1: database link down: this worker stops accepting/g;
sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE client_port = $lport") if $lport;
my (%down_seen, $other_said);
PushdHelper::wait_for([], sub {
	my $h = $pushd->health;
	$down_seen{ $h->{worker} }++ if $h->{http_status} == 503 && defined $h->{worker};
	$other_said = $h if $h->{http_status} == 503 && ($h->{worker} // 0) == 2;
	defined $other_said;
}, 3);
is($other_said && $other_said->{database}, 'up',
	'/healthz 503 while worker 1 reconnects, also from worker 2, whose own database link is up');
ok(PushdHelper::wait_for([], sub { my $n = () = $pushd->log_contents =~ /w1: database link down: this worker stops accepting/g; $n > $stops }, 2),
	'worker 1 stops accepting while its link is down');
my %answered;
for (1 .. 10)
{
	my $h = $pushd->health;
	$answered{ ($h->{worker} // 'none') . '/' . $h->{http_status} }++;
}
is(join(',', keys %answered), '2/503', 'meanwhile every request goes to worker 2, which answers 503');
ok($pushd->wait_health(200, 15), 'and 200 once worker 1 is back');

# --- never backwards: an ETag from ahead waits --future-wait, then 503, never an older body --
# at_once(request, n): n copies of a raw HTTP request, each on its own connection, sent at
# once (to whichever workers the kernel picks); returns the sockets, to be read by answers().
sub at_once
{
	my ($request, $n) = @_;
	my @socks;
	for (1 .. $n)
	{
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5) or die "connect: $!";
		print $s $request;
		push @socks, $s;
	}
	return { socks => \@socks, t0 => time };
}
# toggles_at_once(etag, n): n GET /v1/toggles with that If-None-Match.
sub toggles_at_once
{
	my ($etag, $n) = @_;
	return at_once("GET /v1/toggles HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: $etag\r\nConnection: close\r\n\r\n", $n);
}
# ofrep_request(etag): an OFREP bulk evaluation, with that If-None-Match when given.
sub ofrep_request
{
	my ($etag) = @_;
	my $body = '{"context":{"targetingKey":"u1"}}';
	return "POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
	  . (defined $etag ? "If-None-Match: $etag\r\n" : '')
	  . 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n$body";
}
# answers(sent): "STATUS[/retry-after][/vVERSION]" of each, and the longest wait.
sub answers
{
	my ($sent) = @_;
	my (@out, $longest);
	for my $s (@{ $sent->{socks} })
	{
		my $text = PushdHelper::read_http_answer($s, 10);
		my $took = time - $sent->{t0};
		$longest = $took if !defined $longest || $took > $longest;
		my ($status) = $text =~ m{^HTTP/1\.1 (\d+)};
		my ($version) = $text =~ /"version":(\d+)/;
		push @out, ($status // 'none') . ($text =~ /^retry-after:/mi ? '/retry-after' : '')
		  . (defined $version ? "/v$version" : '');
		close $s;
	}
	return (join(',', sort { $a cmp $b } keys %{ { map { ($_ => 1) } @out } }), $longest);
}
my ($st, $hd) = $pushd->http_get('/v1/toggles');
my ($e, $v, $h) = ($hd->{etag} // '') =~ /^"(.*)-(\d+)-([0-9a-f]{16})"$/;
ok(defined $h, "/v1/toggles has an ETag of version $v");
my $ahead = sub { '"' . $e . '-' . ($v + $_[0]) . '-' . $h . '"' };
my ($said, $waited) = answers(toggles_at_once($ahead->(5), 4));
is($said, '503/retry-after', 'If-None-Match of a version no worker has: 503 with Retry-After from every answer');
cmp_ok($waited, '>=', 2.9, sprintf('... after --future-wait (3 s: %.1f s)', $waited));
is(($pushd->http_get('/v1/toggles', { 'If-None-Match' => $hd->{etag} }))[0], 304, 'its own ETag: 304');
my $pending = toggles_at_once($ahead->(1), 4);
sleep 0.3;
sql(q{UPDATE toggles.features SET is_active = true WHERE name = 'dark-mode'});
($said, $waited) = answers($pending);
is($said, '200/v' . ($v + 1), 'If-None-Match of the next version, which then arrives: 200 with the new body from every answer');
cmp_ok($waited, '<', 2.9, sprintf('... as soon as the workers have it (%.1f s)', $waited));
{
	# OFREP under workers: the same rule for a bulk evaluation's If-None-Match.
	my $first = at_once(ofrep_request(), 1);
	my ($ofrep_etag) = PushdHelper::read_http_answer($first->{socks}[0], 10) =~ /^etag:\s*(\S+)\r$/mi;
	close $first->{socks}[0];
	my ($oe, $ov, $oh) = ($ofrep_etag // '') =~ /^"(.*)-(\d+)-([0-9a-f]{16})"$/;
	ok(defined $oh, "OFREP bulk evaluation has an ETag of version $ov");
	($said, $waited) = answers(at_once(ofrep_request("\"$oe-" . ($ov + 5) . "-$oh\""), 4));
	is($said, '503/retry-after', 'OFREP If-None-Match of a version no worker has: 503 with Retry-After from every answer');
	cmp_ok($waited, '>=', 2.9, sprintf('... after --future-wait (%.1f s)', $waited));
	($said) = answers(at_once(ofrep_request($ofrep_etag), 4));
	is($said, '304', 'OFREP: its own ETag, 304 from every answer');
}

# --- max-catchups-per-second is the service's -----------------------------------------------
# 60 notifications over ~3 s (forged: each makes every worker read the log, as any NOTIFY
# does). Each worker's link takes its share (2 a second); per worker, the service would read
# twice what the setting says (up to ~32 reads here, not ~16).
{
	my $reads = sub { $pushd->metric('pushd_catchups_total') // 0 };
	my $before = $reads->();
	my $delayed_before = $pushd->metric('pushd_catchups_delayed_total') // 0;
	my $t0 = time;
	sql(q{DO $$ BEGIN FOR i IN 1..60 LOOP
		PERFORM pg_notify('toggles', '{"v":1,"version":1}'); COMMIT; PERFORM pg_sleep(0.05);
	END LOOP; END $$});
	my $elapsed = time - $t0;
	PushdHelper::pump(1.5);    # the last delayed reads
	my $n = $reads->() - $before;
	# Each worker's bucket starts full (2 reads), then 4 a second for the service.
	cmp_ok($n, '<=', 4 * ($elapsed + 1.5) + 4,
		sprintf('a flood of notifications over %.1f s: %d reads of the log by the service, at most 4 a second', $elapsed, $n));
	cmp_ok($pushd->metric('pushd_catchups_delayed_total') // 0, '>', $delayed_before, '... the rest waited');
}

# --- SIGTERM drains every worker -----------------------------------------------------------
my @last = map { PushdHelper::Client->connect($pushd->ws_url, local_address => '127.0.0.' . (2 + $_ % 4)) } 1 .. 10;
PushdHelper::wait_for(\@last, sub { !grep { $_->count < 1 } @_ }, 15, 'snapshots');
is($pushd->stop(20), 0, 'SIGTERM: the parent exits 0');
PushdHelper::wait_for(\@last, sub { !grep { !$_->closed } @_ }, 5);
is(join(',', sort { $a <=> $b } keys %{ { map { (($_->close_code // 0) => 1) } @last } }), '1001',
	'every client was closed with 1001');
ok(!kill(0, worker_pid(1)) && !kill(0, worker_pid(2)), 'no worker is left');
is(sql(q{SELECT count(*) FROM toggles.connections}), '0', 'no connection row is left');
note(sprintf('035 took %.1f s', time - $t_start));

$node->stop;
done_testing();
