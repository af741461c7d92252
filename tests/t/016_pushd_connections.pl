# Connection bookkeeping in toggles.connections: a row per connected client (written in
# batches), gone when the client leaves; heartbeats keep a live node's rows; a node
# killed with SIGKILL is reaped by another node after the lease; SIGTERM removes a
# node's rows at once; a node restarted under the same name clears its predecessor's
# rows; --track-connections=false writes nothing.
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

my $node = PostgreSQL::Test::Cluster->new('pushd_connections');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name) VALUES ('dark-mode');
});

my @fast = ('--lease', '3', '--heartbeat-interval', '1', '--register-interval', '200');
my $a = PushdHelper->start($node, node => 'node-a', args => \@fast);
my $b = PushdHelper->start($node, node => 'node-b', args => \@fast);

sub rows
{
	my ($name) = @_;
	return $node->safe_psql('postgres', qq{SELECT count(*) FROM toggles.connections WHERE node = '$name'});
}

# rows_become(node, n, timeout, what): waits until the node has n rows.
sub rows_become
{
	my ($name, $n, $timeout, $what) = @_;
	my $got;
	my $ok = PushdHelper::wait_for([], sub { ($got = rows($name)) == $n }, $timeout);
	ok($ok, $what) or diag("$name has $got rows, expected $n");
	return $ok;
}

sub connect_n
{
	my ($daemon, $n) = @_;
	my @c = map {
		PushdHelper::Client->connect($daemon->ws_url, headers => { 'User-Agent' => "pushd-test/016 $_" })
	} 1 .. $n;
	ok(PushdHelper::wait_for(\@c, sub { !grep { $_->count < 1 } @_ }, 10, 'snapshots'),
		"$n clients connected to " . $daemon->name);
	return @c;
}

my @on_a = connect_n($a, 3);
my @on_b = connect_n($b, 2);
rows_become('node-a', 3, 10, 'node-a: a row per client');
rows_become('node-b', 2, 10, 'node-b: a row per client');

# The peer may be recorded IPv4-mapped (::ffff:127.0.0.1) by a dual-stack listener.
is($node->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT regexp_replace(host(peer), '^::ffff:', ''), ',') || ' '
	       || count(DISTINCT conn_id) || ' '
	       || bool_and(user_agent LIKE 'pushd-test/016 %') || ' '
	       || bool_and(connected_at <= last_seen AND last_seen <= now() + interval '1 second')
	FROM toggles.connections WHERE node = 'node-a'}),
	'127.0.0.1 3 true true', 'rows hold the peer, distinct ids, the User-Agent and sane times');

# Heartbeats move last_seen forward.
my $seen = $node->safe_psql('postgres', q{SELECT max(last_seen) FROM toggles.connections WHERE node = 'node-b'});
ok(PushdHelper::wait_for([], sub {
			$node->safe_psql('postgres',
				qq{SELECT min(last_seen) > '$seen' FROM toggles.connections WHERE node = 'node-b'}) eq 't' },
		10), 'heartbeats refresh last_seen');

# A client leaving takes its row with it.
$on_a[0]->close;
rows_become('node-a', 2, 10, 'node-a: the row of a closed client disappears');

# SIGKILL: node-a cannot clean up; node-b reaps its rows once the 3 s lease is over.
my $t0 = time;
is($a->kill9, 'signal 9', 'node-a killed with SIGKILL');
is(rows('node-a'), 2, 'node-a\'s rows outlive it at first');
rows_become('node-a', 0, 30, 'node-b reaps node-a\'s rows after the lease');
diag(sprintf('node-a rows reaped %.1fs after SIGKILL (lease 3 s)', time - $t0));
PushdHelper::pump(4);    # longer than the lease: node-b's own rows must be kept alive
is(rows('node-b'), 2, 'node-b\'s rows are not reaped: its heartbeat keeps them');

# SIGTERM: the rows go with the node, not after a lease.
is($b->stop, 0, 'node-b: SIGTERM, exit status 0');
is(rows('node-b'), 0, 'node-b\'s rows are removed by the time it exits');
ok(PushdHelper::wait_for(\@on_b, sub { !grep { !$_->closed } @_ }, 10, 'node-b clients closed'),
	'node-b\'s clients were closed');
is_deeply([ map { $_->close_code } @on_b ], [ 1001, 1001 ], 'with 1001 going away');

# A successor under the same name clears what its killed predecessor left, whatever the
# lease (here far too long to reap anything).
my @slow = ('--lease', '3600', '--heartbeat-interval', '1', '--register-interval', '200');
my $c1 = PushdHelper->start($node, node => 'node-c', args => \@slow);
my @on_c = connect_n($c1, 2);
rows_become('node-c', 2, 10, 'node-c: a row per client');
$c1->kill9;
is(rows('node-c'), 2, 'node-c killed: its rows remain');
my $c2 = PushdHelper->start($node, node => 'node-c', args => \@slow);
rows_become('node-c', 0, 10, 'a new node-c removes its predecessor\'s rows at start');
my @on_c2 = connect_n($c2, 1);
rows_become('node-c', 1, 10, 'and registers its own');
is($c2->stop, 0, 'node-c: SIGTERM, exit status 0');

# --track-connections=false: no rows at all.
my $d = PushdHelper->start($node, node => 'node-d', args => [ '--track-connections=false', @fast ]);
my @on_d = connect_n($d, 2);
PushdHelper::pump(2);
is(rows('node-d'), 0, '--track-connections=false writes no rows');
is($d->metric('pushd_clients'), 2, 'but pushd_clients still counts the clients');
is($d->stop, 0, 'node-d: SIGTERM, exit status 0');

$node->stop;
done_testing();
