# A partition between pushd and the database host, 30 s long, while a writer commits: the
# link carries nothing and never closes.  pushd notices within the bound (--db-probe-interval
# + --db-timeout, defaults, 7 s: at most 10 s), says so in /healthz, /metrics and the log,
# serves the last state for --outage-grace, then closes its clients with 1013 spread over
# --outage-close-spread and answers newcomers 503.  After the heal it converges by itself,
# and the clients that come back resume with exactly what they missed: no version ever
# goes backwards.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use NetLab;
use PushdHelper;

PushdHelper::require_pushd();
NetLab::require_lab();

my $CLIENTS = 20;
my $PARTITION_S = 30;
my $GRACE_S = 8;
my $SPREAD_S = 4;

my $node = NetLab::cluster('partition_db', host => 'db1');
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name)
	SELECT 'part-' || lpad(i::text, 2, '0') FROM generate_series(1, 10) AS i;
});
my $epoch = $node->safe_psql('postgres', 'SELECT toggles.epoch()');

# The link's own settings stay at their defaults: the bound measured is the default one.
my $pushd = PushdHelper->start($node,
	db            => NetLab::tcp_connstr($node),
	start_timeout => 30,
	args          => [
		'--outage-grace', $GRACE_S, '--outage-close-spread', $SPREAD_S,
		'--reconnect-min', '200', '--reconnect-max', '1000' ]);

my @clients = map { PushdHelper::Client->connect($pushd->ws_url) } 1 .. $CLIENTS;
ok(PushdHelper::wait_for(\@clients, sub { !grep { $_->count < 1 } @_ }, 20, 'snapshots'),
	"$CLIENTS clients got their snapshots");

# A writer flips a toggle every 0.2 s through the Unix socket (no cut reaches it), for
# longer than the partition lasts.
my $writer = PushdHelper::psql_script_bg($node, 'postgres', join '', map {
	my $t = sprintf('part-%02d', 1 + $_ % 10);
	"UPDATE toggles.features SET is_active = NOT is_active WHERE name = '$t';\nSELECT pg_sleep(0.2);\n"
} 1 .. 5 * ($PARTITION_S + 6));
PushdHelper::pump(1);

# --- the partition ----------------------------------------------------------------------------
my $t_cut = time;
NetLab::cut('db1', 'root');
ok($pushd->wait_health(503, 20), '/healthz turns 503 during the partition');
my $detected = time - $t_cut;
cmp_ok($detected, '<=', 10, sprintf('... %.2f s after the cut (bound: 10 s)', $detected));
like($pushd->log_contents, qr/database link lost: no answer from the server for 5 s/,
	'the log says why');
my $m = $pushd->metrics;
is($m->{pushd_database_up}, 0, 'pushd_database_up is 0');
cmp_ok($m->{pushd_database_last_answer_seconds}, '>=', 5, 'pushd_database_last_answer_seconds says how long it has been silent');
cmp_ok($m->{pushd_database_timeouts_total}, '>=', 1, 'pushd_database_timeouts_total counts it');
is(scalar(grep { $_->closed } @clients), 0, 'within --outage-grace the clients stay connected');
my $early = PushdHelper::Client->connect($pushd->ws_url);
ok(PushdHelper::wait_for($early, sub { $early->count >= 1 || $early->closed }, 5, 'a snapshot in the grace'),
	'a new client within the grace is served');
is(($early->message(0) // {})->{type}, 'snapshot', '... the last state, as a snapshot');
$early->close;

# After the grace, 1013 for every client, spread over --outage-close-spread.
ok(PushdHelper::wait_for(\@clients, sub { !grep { !$_->closed } @_ }, $GRACE_S + $SPREAD_S + 10,
		'the clients to be closed'),
	'after --outage-grace every client is closed');
my @codes = map { $_->close_code // 'none' } @clients;
is_deeply([ grep { $_ ne '1013' } @codes ], [], '... each with 1013');
is(scalar(grep { ($_->close_reason // '') eq 'database unavailable' } @clients), $CLIENTS,
	'... reason "database unavailable"');
my @at = sort { $a <=> $b } map { $_->closed_at } @clients;
my $first = $at[0] - $t_cut;
cmp_ok($first, '>=', $GRACE_S, sprintf('... the first %.1f s after the cut, not before the grace', $first));
my $spread = $at[-1] - $at[0];
cmp_ok($spread, '>=', $SPREAD_S / 2, sprintf('... spread over %.1f s, not in one instant', $spread));
diag(sprintf('1013 closes from %.1f s to %.1f s after the cut', $first, $first + $spread));
cmp_ok($spread, '<=', $SPREAD_S + 2, '... within --outage-close-spread');
is($pushd->metric('pushd_outage_closes_total'), $CLIENTS, 'pushd_outage_closes_total counts them');

# Newcomers: 503 with Retry-After, never silence and never the stale state.
my $late = PushdHelper::Client->connect($pushd->ws_url);
PushdHelper::wait_for($late, sub { $late->closed || $late->is_open }, 10);
is($late->handshake_status, 503, 'a new WebSocket client gets 503 after the grace');
my ($status, $headers, $body) = $pushd->http_get('/v1/toggles');
is($status, 503, 'GET /v1/toggles: 503');
is($headers->{'retry-after'}, '5', '... with Retry-After');
like($body, qr/"error":"unavailable".*database link has been down/, '... and a body saying why');
cmp_ok($pushd->metric('pushd_outage_refused_total'), '>=', 2, 'pushd_outage_refused_total counts them');

# --- the heal ---------------------------------------------------------------------------------
my $left = $t_cut + $PARTITION_S - time;
PushdHelper::pump($left) if $left > 0;
NetLab::heal('db1');
my $t_heal = time;
ok($pushd->wait_health(200, 30), '/healthz 200 again after the heal');
diag(sprintf('detected %.2f s after the cut; healthy %.2f s after the heal', $detected, time - $t_heal));
is($writer->wait(60), 0, 'the writer committed every flip');
my $version = PushdHelper::current_version($node);
ok($pushd->wait_version($version, 20), "pushd converges on version $version by itself");
cmp_ok($pushd->metric('pushd_reconnects_total'), '>=', 1, 'it reconnected');

# Each client comes back with what it had; a change brings it to the table.
my @back = map {
	PushdHelper::Client->connect($pushd->ws_url('/v1/stream?since=' . $_->last_version . "&epoch=$epoch"))
} @clients;
ok(PushdHelper::all_reached(\@back, $version, 20), 'the clients resume and reach the current version');
is(scalar(grep { ($_->message(0) // {})->{type} ne 'change' } @back), 0, '... each with a change, no snapshot');
my $model = PushdHelper::LogModel->load($node);
my $table = PushdHelper::state_string(PushdHelper::table_state($node));
my @bad;
for my $i (0 .. $#clients)
{
	my $r = $model->verify_stream([ $clients[$i]->messages, $back[$i]->messages ], epoch => $epoch);
	push @bad, map { "client $i: $_" } @{ $r->{errors} };
	push @bad, "client $i: ends elsewhere" unless PushdHelper::state_string($r->{state} // {}) eq $table;
}
is_deeply(\@bad, [], 'every stream, before and after, checks out against the log: nothing backwards, nothing lost');
$_->close for @back;

is($pushd->stop, 0, 'clean stop');
$node->stop;
done_testing();
