# Never backwards across nodes: a client that has seen version V resumes on a node that is
# behind (its database link is cut, it still serves within --outage-grace).  That node waits
# --future-wait for V, then closes the client with 1013: never an older snapshot.  The
# client converges on a node that is current, and on the lagging node once it caught up.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use NetLab;
use PushdHelper;

PushdHelper::require_pushd();
NetLab::require_lab();

my $node = NetLab::cluster('ahead_db', host => 'db1');
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name) VALUES ('ahead-a'), ('ahead-b');
});
sub sql { return $node->safe_psql('postgres', $_[0]); }
my $epoch = sql('SELECT toggles.epoch()');

# current: over the Unix socket, which no cut reaches; lagging: over TCP from the test host.
my $current = PushdHelper->start($node, node => 'current');
my $lagging = PushdHelper->start($node, node => 'lagging', db => NetLab::tcp_connstr($node),
	start_timeout => 30,
	args => [ '--future-wait', '1000', '--outage-grace', '300', '--reconnect-min', '200',
		'--reconnect-max', '1000' ]);
my $v0 = PushdHelper::current_version($node);
ok($lagging->wait_version($v0, 10), "both nodes at version $v0");

NetLab::cut('db1', 'root');
ok($lagging->wait_health(503, 20), 'the lagging node lost its link');
sql(qq{UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'ahead-$_'}) for qw(a b a);
my $v = PushdHelper::current_version($node);
ok($current->wait_version($v, 10), "the current node reached version $v");

my $c = PushdHelper::Client->connect($current->ws_url);
ok(PushdHelper::all_reached([$c], $v, 10), "a client has seen version $v");
$c->close;

# resume_on($daemon, $since): a client resuming there from $since, once it was answered or closed.
sub resume_on
{
	my ($daemon, $since) = @_;
	my $r = PushdHelper::Client->connect($daemon->ws_url("/v1/stream?since=$since&epoch=$epoch"));
	PushdHelper::wait_for($r, sub { $r->count >= 1 || $r->closed }, 15, "an answer from $daemon->{name}");
	return $r;
}

my $t0 = time;
my $r = resume_on($lagging, $v);
my $waited = time - $t0;
is($r->count, 0, 'on the lagging node: no message, no older snapshot');
is($r->close_code, 1013, '... closed with 1013');
is($r->close_reason, 'version not reached yet', '... saying why');
cmp_ok($waited, '>=', 0.9, sprintf('... after --future-wait (%.2f s)', $waited));
is($lagging->metric('pushd_future_closes_total'), 1, 'pushd_future_closes_total counts it');

$r = resume_on($current, $v);
my $m = $r->message(0) // {};
is($m->{type}, 'change', 'on the current node: the resume acknowledgement');
is($m->{version}, $v, '... at the version the client has');
is_deeply([ $m->{toggles}, $m->{removed} ], [ [], [] ], '... with nothing in it');
$r->close;

NetLab::heal('db1');
ok($lagging->wait_version($v, 30), 'after the heal the lagging node catches up');
$r = resume_on($lagging, $v);
$m = $r->message(0) // {};
is($m->{type}, 'change', 'and then answers the same resume with a change');
is($m->{version}, $v, '... at that version');
$r->close;

is($_->stop, 0, "$_->{name}: clean stop") for ($current, $lagging);
$node->stop;
done_testing();
