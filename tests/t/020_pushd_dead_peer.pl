# Dead peers are reaped by pushd's liveness sweep (pushd/liveness.c): a client silent for
# --ping-interval is sent a WebSocket ping, and one that stays silent --pong-timeout
# longer is closed; any frame from the client counts as an answer.  Clients that answer
# (with pongs, or with messages of their own) stay connected.  The same sweep hangs up
# on a client that cannot take its close frame.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use PushdHelper;

PushdHelper::require_pushd();

my $node = PostgreSQL::Test::Cluster->new('pushd_dead_peer');
$node->init;
$node->start;
$node->safe_psql('postgres', q{CREATE EXTENSION pg_toggles});

my ($ping_interval, $pong_timeout) = (1, 1);
my $pushd = PushdHelper->start($node,
	args => [ '--ping-interval', $ping_interval, '--pong-timeout', $pong_timeout ]);

# A client that talks in messages of its own (the JavaScript client's {"type":"ping"})
# but never answers a WebSocket ping: what it sends proves it alive.
my $chatty = PushdHelper::RawClient->connect(port => $pushd->port);
is(($chatty->upgrade)[0], 101, 'a client that only sends messages upgraded');

my $silent = PushdHelper::RawClient->connect(port => $pushd->port);
my ($status) = $silent->upgrade;
is($status, 101, 'a silent client upgraded');
my $started = time;

# The silent client reads (so it is not a slow consumer) but never answers; the chatty one
# sends a message every 0.4 s and reads what comes (pongs, the ping it ignores).
my ($frames, $pings, $ping_at, $end) = (0, 0, undef, undef);
my $chatty_pings = 0;
my $next_chat = 0;
while (time - $started < 15)
{
	if (time >= $next_chat)
	{
		$chatty->send_text('{"type":"ping"}');
		$next_chat = time + 0.4;
	}
	while (my $f = $chatty->read_frame(0.01))
	{
		last if $f->{eof};
		$chatty_pings++ if $f->{opcode} == 9;
	}
	my $f = $silent->read_frame(0.1);
	next unless $f;
	if ($f->{eof} || $f->{opcode} == 8)
	{
		$end = $f->{eof} ? 'eof' : 'close';
		last;
	}
	$frames++;
	if ($f->{opcode} == 9)
	{
		$pings++;
		$ping_at //= time - $started;
	}
}
my $took = time - $started;
ok(defined $end, sprintf('the silent client was hung up on (%s, after %.1f s)', $end // 'not at all', $took));
cmp_ok($frames, '>=', 2, 'it was sent its snapshot and a ping first');
is($pings, 1, 'one WebSocket ping, then the hang-up');
# Sent once the client has been silent for --ping-interval: the sweep runs every second.
ok(defined $ping_at && $ping_at >= $ping_interval - 0.2 && $ping_at <= $ping_interval + 1.5,
	sprintf('the ping came after --ping-interval (%.1f s)', $ping_at // -1));
# The bound of docs/operations.md: ping-interval + pong-timeout, plus a sweep (1 s) for the
# ping and one for the verdict; the slack is the test's own.
my $bound = $ping_interval + $pong_timeout + 2;
ok($took >= $ping_interval + $pong_timeout - 0.2 && $took <= $bound + 0.5,
	sprintf('closed %.1f s after connecting: within ping-interval + pong-timeout + 2 sweeps (%d s)',
		$took, $bound));
is($pushd->metric('pushd_dead_peers_total'), 1, 'pushd_dead_peers_total counts it');
cmp_ok($pushd->metric('pushd_pings_sent_total'), '>=', 1, 'pushd_pings_sent_total counts the ping');

ok(!$chatty->{eof}, 'the client that sends messages but ignores pings is still connected');
is($chatty_pings, 0, 'and was never pinged: it was never silent for --ping-interval');
$chatty->close;

# A client that answers (Mojo does) outlives several ping rounds and is still served.
my $alive = PushdHelper::Client->connect($pushd->ws_url);
ok(PushdHelper::wait_for($alive, sub { $alive->count >= 1 }, 30, 'snapshot'), 'a live client is connected');
PushdHelper::pump(4 * ($ping_interval + $pong_timeout));
ok(!$alive->closed, 'the client that answers pings stays connected');
cmp_ok($pushd->metric('pushd_pings_sent_total'), '>=', 3, 'it was pinged at every --ping-interval of silence');
$node->safe_psql('postgres', q{INSERT INTO toggles.features (name) VALUES ('after-reaping')});
ok(PushdHelper::wait_for($alive, sub { grep { ($_->{type} // '') eq 'change' } $alive->messages }, 30, 'change'),
	'and still gets changes');
is($pushd->metric('pushd_dead_peers_total'), 1, 'no client that answers was taken for dead');
is($pushd->stop, 0, 'SIGTERM: exit status 0');

# A client being closed that cannot take its close frame (it reads nothing and its socket
# is full) is hung up on by the same sweep, CLOSE_WAIT_US (5 s) after the close began:
# here a stalled client culled with 4001 (--max-stall).
$node->safe_psql('postgres', q{
	INSERT INTO toggles.features (name, description)
	SELECT 'big-' || i, repeat('x', 900) FROM generate_series(1, 300) AS i});
$pushd = PushdHelper->start($node,
	args => [ '--max-backlog-bytes', '65536', '--max-stall', '1', '--ping-interval', '3600' ]);
my $stalled = PushdHelper::RawClient->connect(port => $pushd->port, rcvbuf => 4096);
is(($stalled->upgrade)[0], 101, 'a client that will read nothing upgraded');
$stalled->stop_reading;
PushdHelper::pump(1.5);
# A change of every toggle: ~300 KB behind, with nothing taken for over --max-stall.
$node->safe_psql('postgres', q{UPDATE toggles.features SET description = repeat('y', 900) WHERE name LIKE 'big-%'});
my ($culled_at, $gone_at);
my $t_start = time;
while (time - $t_start < 20 && !defined $gone_at)
{
	my $m = $pushd->metrics;
	$culled_at //= time if ($m->{pushd_culled_clients_total} // 0) >= 1;
	$gone_at = time if defined $culled_at && ($m->{pushd_clients} // 1) == 0;
	PushdHelper::pump(0.2);
}
ok(defined $culled_at, 'the stalled client was culled (4001)');
ok(defined $gone_at, 'and hung up on, its close frame never taken');
my $waited = ($gone_at // 99) - ($culled_at // 0);
ok($waited >= 4 && $waited <= 7.5,
	sprintf('%.1f s after the cull: CLOSE_WAIT_US (5 s) plus at most a 1 s sweep', $waited));
$stalled->close;
is($pushd->stop, 0, 'SIGTERM: exit status 0');
$node->stop;
done_testing();
