# Connect storms: pushd accepts from its own listening socket in bounded batches
# (pushd/listener.c).  With --max-handshakes connections in their handshake, the rest wait
# in the kernel's listen queue and are served as slots free up: nothing is refused that
# would have been served.  A storm of 3,000 clients (bench/loadgen, from 127.0.0.2-9) is
# served completely: every client gets its snapshot.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use IPC::Run;
use PushdHelper;

PushdHelper::require_pushd();
my $loadgen = ($ENV{TOGGLES_TOOLS} // "$FindBin::Bin/../tools") . '/loadgen';
plan skip_all => "$loadgen not built (make test-tools)" unless -x $loadgen;

my $node = PostgreSQL::Test::Cluster->new('pushd_storm');
$node->init;
$node->start;
$node->safe_psql('postgres', q{CREATE EXTENSION pg_toggles});
# 200 toggles: a snapshot of ~30 KB, as in the benchmark.
$node->safe_psql('postgres', q{
	INSERT INTO toggles.features (name, is_active, description)
	SELECT format('storm-%s', lpad(i::text, 3, '0')), i % 2 = 0, format('Storm toggle %s', i)
	FROM generate_series(0, 199) AS i});

# --- the limit: 2 handshakes at a time -------------------------------------------------
my $pushd = PushdHelper->start($node,
	args => [ '--max-handshakes', '2', '--handshake-timeout', '3', '--ping-interval', '20' ]);

# Two connections that say nothing hold both slots until --handshake-timeout.
my @idle = map { PushdHelper::RawClient->connect(port => $pushd->port) } 1 .. 2;
my $t0 = time;
PushdHelper::pump(0.3);
my $waiting = PushdHelper::RawClient->connect(port => $pushd->port);
ok($waiting->connected, 'a third connection is taken by the kernel (listen queue)');
$waiting->send_raw("GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
my ($early) = $waiting->read_http_response(1);
is($early, 'timeout', 'but not served while 2 handshakes are in progress');
my ($status) = $waiting->read_http_response(10);
my $waited = time - $t0;
is($status, '101', sprintf('it is upgraded once the idle ones time out (after %.1f s)', $waited));
cmp_ok($waited, '>=', 2.5, 'not before --handshake-timeout freed a slot');
my $f = $waiting->read_frame(10);
like($f && $f->{payload} // '', qr/"type":"snapshot"/, 'and gets its snapshot');
# (A /metrics request needs a slot too: it is asked only now.)
my $m = $pushd->metrics;
cmp_ok($m->{pushd_accept_pauses_total}, '>=', 1, 'pushd_accept_pauses_total: accepting paused');
is($m->{pushd_handshake_timeouts_total}, 2, 'the two idle connections timed out');
is($m->{'pushd_connections_refused_total{limit="max-connections"}'} // 0, 0, 'nothing was refused');

# Many clients at once through 2 slots: all served, none refused.
my @many = map { PushdHelper::RawClient->connect(port => $pushd->port) } 1 .. 40;
$_->send_raw("GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n") for @many;
my $served = grep { (($_->read_http_response(20))[0] // '') eq '101' } @many;
is($served, 40, '40 clients at once through 2 handshake slots: every one upgraded');
is($pushd->metric('pushd_clients'), 41, 'pushd_clients: 41');
# Accepted sockets carry TCP keepalive, from the listening socket (first probe after
# --ping-interval of silence).
my $port = $pushd->port;
my $ss = `ss -tnoH state established '( sport = :$port )' 2>&1`;
my ($ka) = $ss =~ /timer:\(keepalive,(\d+)sec/;
ok(defined $ka && $ka > 10 && $ka <= 20, "accepted sockets have TCP keepalive after --ping-interval (${\($ka // 'none')} s left)")
  or diag($ss);
$_->close for @many, $waiting, @idle;
is($pushd->stop, 0, 'SIGTERM: exit status 0');

# --- out of descriptors: accepting rests, it does not spin --------------------------------
# Under `ulimit -n 40` accept() fails with EMFILE while a connection waits in the queue:
# pushd pauses accepting for 100 ms at a time instead of polling a readable socket in a
# loop, and serves the waiting client once descriptors are free again.
$pushd = PushdHelper->start($node,
	wrapper => [ 'sh', '-c', 'ulimit -n 40; exec "$@"', 'sh' ],
	args => [ '--max-connections', '1000', '--max-connections-per-ip', '0' ]);
my @full;
for (1 .. 60)
{
	my $c = PushdHelper::RawClient->connect(port => $pushd->port);
	$c->send_raw("GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
	my ($st) = $c->read_http_response(1);
	push @full, $c;
	last if $st ne '101';
}
my $starved = $full[-1];
my ($st) = $starved->read_http_response(0.1);
isnt($st, '101', sprintf('descriptors run out after %d clients', scalar(@full) - 1));
my $cpu = sub {
	open my $fh, '<', '/proc/' . $pushd->pid . '/stat' or return 0;
	my @f = split ' ', (<$fh> =~ s/^.*\) //r);
	return ($f[11] + $f[12]) / 100;    # utime + stime, in clock ticks of 1/100 s
};
my $cpu0 = $cpu->();
sleep 2;
my $spent = $cpu->() - $cpu0;
cmp_ok($spent, '<', 0.5, sprintf('while one waits, pushd does not spin (%.2f s of CPU in 2 s)', $spent));
like($pushd->log_contents, qr/accept on \S+ failed: Too many open files; accepting again in 100 ms/,
	'the failure is logged');
$_->close for @full[ 0 .. 4 ];
($st) = $starved->read_http_response(5);
is($st, '101', 'once descriptors are free, the waiting client is served');
$_->close for @full;
is($pushd->stop, 0, 'SIGTERM: exit status 0');

# --- a storm of 3,000 -----------------------------------------------------------------
$pushd = PushdHelper->start($node,
	args => [ '--max-connections', '4000', '--max-connections-per-ip', '0' ]);
my ($out, $err) = ('', '');
my $started = time;
IPC::Run::run([ $loadgen, '--port', $pushd->port, '--db', $node->connstr('postgres'),
		'--pid', $pushd->pid, '--label', 'pushd', 'storm', '--clients', '3000' ],
	'>', \$out, '2>', \$err, IPC::Run::timeout(180));
my %r = map { (split /,/)[ 3, 4 ] } split /\n/, $out;
note("loadgen: $out" . join("", grep { !/pg_stat_statements|^LINE|^\s*\^/ } split /^/, $err));
cmp_ok($r{storm_s} // -1, '>', 0, 'storm of 3,000: every client got its snapshot');
cmp_ok($r{storm_s} // 999, '<', 60, sprintf('within 60 s (%.2f s)', $r{storm_s} // -1));
is($r{protocol_errors} // 0, 0, 'no stream out of step');
# The load generator has closed its clients by now.
$m = $pushd->metrics;
cmp_ok($m->{pushd_connections_accepted_total}, '>=', 3000, 'pushd accepted all 3,000');
is($m->{'pushd_connections_refused_total{limit="max-connections"}'} // 0, 0, 'none refused');
note(sprintf('storm of 3,000: %.2f s, RSS %s KiB after', $r{storm_s} // -1, $r{rss_kib} // '?'));
is($pushd->stop, 0, 'SIGTERM: exit status 0');
$node->stop;
done_testing();
