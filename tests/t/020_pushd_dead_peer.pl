# Dead peers are reaped: a client that never answers WebSocket pings is closed after
# --ping-interval + --pong-timeout, while one that answers stays connected.
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

my $pushd = PushdHelper->start($node, args => [ '--ping-interval', '1', '--pong-timeout', '1' ]);

my $silent = PushdHelper::RawClient->connect(port => $pushd->port);
my ($status) = $silent->upgrade;
is($status, 101, 'a silent client upgraded');

# The silent client reads (so it is not a slow consumer) but never sends a pong.
my $started = time;
my $end = $silent->read_until_close(15);
my $took = time - $started;
isnt($end->{how}, 'timeout', "the silent client was hung up on ($end->{how}, after " . sprintf('%.1f', $took) . ' s)');
cmp_ok($end->{frames}, '>=', 1, 'it was sent its snapshot first');

# A client that answers (Mojo does) outlives several ping rounds and is still served.
my $alive = PushdHelper::Client->connect($pushd->ws_url);
ok(PushdHelper::wait_for($alive, sub { $alive->count >= 1 }, 30, 'snapshot'), 'a live client is connected');
PushdHelper::pump(4);
ok(!$alive->closed, 'the client that answers pings stays connected');
$node->safe_psql('postgres', q{INSERT INTO toggles.features (name) VALUES ('after-reaping')});
ok(PushdHelper::wait_for($alive, sub { grep { ($_->{type} // '') eq 'change' } $alive->messages }, 30, 'change'),
	'and still gets changes');
is($pushd->metric('pushd_clients'), 1, 'pushd_clients counts only the live client');

is($pushd->stop, 0, 'SIGTERM: exit status 0');
$node->stop;
done_testing();
