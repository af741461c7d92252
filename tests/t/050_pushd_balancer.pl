# Three pushd nodes on their own lab hosts behind HAProxy running deploy/haproxy.cfg as
# shipped, the database on a fourth.  Clients spread over the nodes with no sticky
# sessions; a node that drains (SIGTERM: 1001) or loses its database (1013 after the
# grace) sends its clients to the others, where they resume with a change, no snapshot
# and nothing lost; the balancer stops routing to it by its /healthz.  The nodes see each
# client's own address through X-Forwarded-For (per-address limits, connection rows), and
# /metrics is not reachable through the balancer.
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
use Balancer;

PushdHelper::require_pushd();
NetLab::require_lab();
plan skip_all => 'haproxy is not installed (scripts/deps.sh installs it)'
  unless grep { -x "$_/haproxy" } split /:/, "$ENV{PATH}:/usr/sbin";
$ENV{PATH} .= ':/usr/sbin';

my $FOLLOWERS = 9;
my $PER_IP = 6;

my $db = NetLab::cluster('balancer_db', host => 'db1');
$db->start;
$db->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name) SELECT 'lb-' || i FROM generate_series(1, 6) AS i;
});
sub sql { return $db->safe_psql('postgres', $_[0]); }
sub flip { sql("UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'lb-$_[0]'"); }
my $epoch = sql('SELECT toggles.epoch()');

my @node_args = ('--outage-grace', '3', '--outage-close-spread', '1',
	'--max-connections-per-ip', $PER_IP, '--heartbeat-interval', '1');
my @nodes = map { Balancer::start_node($db, "app$_", args => \@node_args) } 1 .. 3;
my $lb = Balancer->start(@nodes);
pass('haproxy runs deploy/haproxy.cfg and sees the three nodes UP');

my @f = map { Balancer::Follower->new($lb->ws_url) } 1 .. $FOLLOWERS;
ok(PushdHelper::wait_for([], sub { !grep { !defined $_->last_version } @f }, 20, 'snapshots'),
	"$FOLLOWERS clients through the balancer have their snapshots");
my @per_node = map { $_->metric('pushd_clients') // 0 } @nodes;
is(scalar(grep { $_ > 0 } @per_node), 3, "... spread over the three nodes (@per_node)");

sub converged
{
	my ($what) = @_;
	my $v = PushdHelper::current_version($db);
	ok(PushdHelper::wait_for([], sub { !grep { ($_->last_version // -1) < $v } @f }, 30),
		"$what: every client reaches version $v");
	is_deeply([ Balancer::Follower::verify_all($db, \@f, $epoch) ], [],
		"$what: every stream checks out against the log (nothing backwards, nothing lost)");
}
flip($_) for 1 .. 3;
converged('flips through the balancer');

# --- /metrics is not reachable through the balancer ----------------------------------------
my $res = HTTP::Tiny->new(timeout => 5)->get($lb->url('/metrics'));
is($res->{status}, 404, 'GET /metrics through the balancer: 404');
$res = HTTP::Tiny->new(timeout => 5)->get($lb->url('/v1/toggles'));
is($res->{status}, 200, 'GET /v1/toggles through the balancer: 200');

# --- X-Forwarded-For: the nodes see each client, and limit it ------------------------------
my @from2 = map { PushdHelper::Client->connect($lb->ws_url, local_address => '127.0.0.2') }
  1 .. 3 * $PER_IP + 3;
PushdHelper::wait_for(\@from2, sub { !grep { !$_->closed && $_->count == 0 } @_ }, 20, 'the answers');
my @refused = grep { $_->closed && !$_->count } @from2;
my $served = grep { $_->count } @from2;
cmp_ok($served, '<=', 3 * $PER_IP, "from one address at most --max-connections-per-ip per node ($served served)");
cmp_ok(scalar(@refused), '>=', 3, '... the rest refused (' . scalar(@refused) . ')');
is(scalar(grep { ($_->handshake_status // 0) != 429 } @refused), 0, '... with 429');
my $other = PushdHelper::Client->connect($lb->ws_url, local_address => '127.0.0.3');
ok(PushdHelper::wait_for($other, sub { $other->count > 0 || $other->closed }, 10) && $other->count,
	'another address is served meanwhile');
ok(PushdHelper::wait_for([], sub {
			sql(q{SELECT count(*) FROM toggles.connections WHERE host(peer) = '127.0.0.2'}) == $served }, 20),
	'connection rows carry the client\'s own address, not the balancer\'s');
cmp_ok(sql(q{SELECT count(*) FROM toggles.connections WHERE host(peer) = '} . Balancer::lab_address() . q{'}),
	'==', 0, '... none the balancer\'s');
$_->close for @from2, $other;
ok(PushdHelper::wait_for([], sub { my $n = 0; $n += $_->metric('pushd_clients') // 0 for @nodes; $n == $FOLLOWERS }, 20),
	'... and once they leave, the nodes hold the followers only');

# --- a node drains: SIGTERM, 1001, its clients resume elsewhere -----------------------------
my ($busiest) = sort { ($b->metric('pushd_clients') // 0) <=> ($a->metric('pushd_clients') // 0) } @nodes;
my $moving = $busiest->metric('pushd_clients');
my @closes_before = map { scalar $_->closes } @f;
my $writer = PushdHelper::psql_script_bg($db, 'postgres', join '', map {
	"UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'lb-" . (1 + $_ % 6) . "';\nSELECT pg_sleep(0.05);\n"
} 1 .. 60);
is($busiest->stop, 0, $busiest->name . " drains ($moving clients) and exits 0 on SIGTERM");
is($writer->wait(30), 0, 'a writer committed throughout');
converged('after the drain');
my @moved = grep { scalar($f[$_]->closes) > $closes_before[$_] } 0 .. $#f;
is(scalar(@moved), $moving, "the drained node's $moving clients reconnected");
is_deeply([ sort { $a <=> $b } map { ($f[$_]->closes)[$closes_before[$_]] } @moved ], [ (1001) x $moving ],
	'... after a 1001');
is(scalar(grep { $_->snapshots > 1 } @f), 0, '... resuming with a change: no client got a second snapshot');
ok($lb->wait_states({ $busiest->name =~ s/app/node/r => 'DOWN' }, 10), 'haproxy marks the drained node DOWN');

# It comes back where it was.
my $i = (grep { $nodes[$_] == $busiest } 0 .. 2)[0];
$nodes[$i] = Balancer::start_node($db, $busiest->name, port => $busiest->port, args => \@node_args);
ok($lb->wait_states({ "node" . ($i + 1) => 'UP' }, 15), 'restarted, it is UP again');

# --- a node loses its database: 1013 after the grace, resumed elsewhere ---------------------
# Give every node clients again: a follower on the cut node must move.
my @extra = map { Balancer::Follower->new($lb->ws_url) } 1 .. 3;
push @f, @extra;
ok(PushdHelper::wait_for([], sub { !grep { !defined $_->last_version } @extra }, 20), 'three more clients');
my ($victim) = sort { ($b->metric('pushd_clients') // 0) <=> ($a->metric('pushd_clients') // 0) } @nodes;
my $stranded = $victim->metric('pushd_clients');
my $host = $victim->name;
@closes_before = map { scalar $_->closes } @f;
NetLab::cut($host, 'db1');
ok($lb->wait_states({ $host =~ s/app/node/r => 'DOWN' }, 20), "$host cut from the database: haproxy marks it DOWN");
flip(4);
flip(5);
ok(PushdHelper::wait_for([], sub { ($victim->metric('pushd_clients') // -1) == 0 }, 30),
	"its $stranded clients left it after --outage-grace");
converged('after the partition');
my @codes = map { my $k = $_; ($f[$k]->closes)[ $closes_before[$k] .. scalar($f[$k]->closes) - 1 ] } 0 .. $#f;
is_deeply([ grep { $_ ne '1013' } @codes ], [], 'each left with 1013');
is(scalar(grep { $_->snapshots > 1 } @f), 0, 'and resumed on another node with a change');
NetLab::heal($host, 'db1');
ok($lb->wait_states({ $host =~ s/app/node/r => 'UP' }, 30), 'healed, it is UP again');
diag(sprintf('%d clients followed; %d resumes, %d snapshots in all',
		scalar(@f), (map { my $s = 0; $s += $_->resumes for @f; $s } 1), scalar(@f)));

$_->stop for @f;
$lb->stop;
$_->stop for @nodes;
$db->stop;
done_testing();
