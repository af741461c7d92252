# The NOTIFY payload is only a hint (docs/change-stream.md, "Trust"): any role that can
# connect can send one.  Forged and garbage notifications must change nothing clients
# see, must not move the daemon's version (a forged 999999 would make it skip real
# changes), and the next real change must still arrive with its real version.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PushdHelper;

PushdHelper::require_pushd();

my $node = PostgreSQL::Test::Cluster->new('pushd_forged');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	CREATE ROLE mallory LOGIN;
	GRANT CONNECT ON DATABASE postgres TO mallory;
	INSERT INTO toggles.features (name, is_active, description) VALUES
		('dark-mode', false, 'Dark theme'), ('beta-banner', true, '');
});

my $pushd = PushdHelper->start($node);
my @clients = map { PushdHelper::Client->connect($pushd->ws_url) } 1 .. 3;
ok(PushdHelper::wait_for(\@clients, sub { !grep { $_->count < 1 } @_ }, 10, 'snapshots'),
	'clients got their snapshots');

my $version = PushdHelper::current_version($node);
my ($status, $headers, $body_before) = $pushd->http_get('/v1/toggles');
my $etag_before = $headers->{etag};
my $m0 = $pushd->metrics;
my $ignored_before = $pushd->metric('pushd_notifications_ignored_total', $m0) // 0;
my $notified_before = $pushd->metric('pushd_notifications_total', $m0) // 0;

# Everything mallory sends is well within NOTIFY's 8000-byte limit.
my @forged = (
	'{"v":1,"version":999999,"toggles":[{"name":"dark-mode","active":true}],"removed":[]}',
	'{"v":1,"version":' . ($version + 1) . ',"toggles":[{"name":"dark-mode","active":true}],"removed":["beta-banner"]}',
	'{"v":1,"version":999999,"toggles":[],"removed":["dark-mode"]}',
	'{"v":1,"version":1000000,"ref":true,"count":1}',
	'{"v":2,"version":1000001,"toggles":[],"removed":[]}',
	'{"v":1}',
	'{"v":1,"version":"lots","toggles":"x"}',
	'{"v":1,"version":-5,"toggles":[{"name":"dark-mode"}]}',
	'{"v":1,"version":1e300,"toggles":[null]}',
	'[]', 'null', '"string"', 'not json at all', '{"unterminated": ',
	'{"v":1,"version":999999,"toggles":[{"name":"' . ('x' x 5000) . '","active":true}]}',
	"\xe2\x98\xba snowman \xe2\x98\x83",    # UTF-8 bytes
	'',
);
my $sql = join "\n", map {
	my $p = $_ =~ s/'/''/gr;
	"SELECT pg_notify('toggles', '$p');"
} @forged;
$sql .= "\nNOTIFY toggles;\nNOTIFY toggles, '';\n";
$node->safe_psql('postgres', $sql, extra_params => [ '-U', 'mallory' ]);
my $sent = @forged + 2;

# Give the daemon two seconds to do something wrong.
PushdHelper::pump(2);
is(scalar(grep { $_->count != 1 } @clients), 0, 'no client received anything within 2 s');
my @pongs = map { $_->barrier(10) } @clients;
is(scalar(grep { $_ && $_->{version} == $version } @pongs), scalar(@clients),
	'the pong still reports the real version');
is(scalar(grep { $_->count != 2 } @clients), 0, 'and only the pong arrived');

my ($status_after, $headers_after, $body_after) = $pushd->http_get('/v1/toggles');
is($status_after, 200, 'GET /v1/toggles still answers');
is($headers_after->{etag}, $etag_before, 'the ETag is unchanged');
is($body_after, $body_before, 'the snapshot is unchanged');
is($pushd->health->{version}, $version, '/healthz reports the real version');

my $m1 = $pushd->metrics;
cmp_ok($pushd->metric('pushd_notifications_ignored_total', $m1) // 0, '>', $ignored_before,
	'pushd_notifications_ignored_total went up');
cmp_ok($pushd->metric('pushd_notifications_total', $m1) // 0, '>', $notified_before,
	'pushd_notifications_total went up');
is($pushd->metric('pushd_last_version', $m1), $version, 'pushd_last_version did not move');
diag(sprintf('%d forged notifications; ignored_total %s -> %s', $sent, $ignored_before,
	$pushd->metric('pushd_notifications_ignored_total', $m1) // 'absent'));

# A real flip after all that: the one mallory claimed, with its real, much lower, version.
$node->safe_psql('postgres', q{UPDATE toggles.features SET is_active = true WHERE name = 'dark-mode'});
my $real = PushdHelper::current_version($node);
cmp_ok($real, '<', 999999, 'the real version is far below the forged one');
ok(PushdHelper::all_reached(\@clients, $real, 10), 'the real flip arrives');
my $model = PushdHelper::LogModel->load($node);
for my $i (0 .. $#clients)
{
	my $r = $model->verify_stream([ $clients[$i]->messages ]);
	is_deeply($r->{errors}, [], "client $i: its stream checks out against the log");
	is($r->{version}, $real, "client $i: at the real version");
}
my $change = ($clients[0]->of_type('change'))[0] // {};
is_deeply([ map { [ $_->{name}, $_->{active} ? 1 : 0 ] } @{ $change->{toggles} // [] } ],
	[ [ 'dark-mode', 1 ] ], 'the change is the real one: dark-mode on');
is_deeply($change->{removed}, [], 'beta-banner was not removed');

# A forged payload naming the very next real version must not make the daemon skip it.
my $next = $real + 1;
$node->safe_psql('postgres',
	qq{SELECT pg_notify('toggles', '{"v":1,"version":$next,"toggles":[],"removed":["dark-mode"]}')},
	extra_params => [ '-U', 'mallory' ]);
PushdHelper::pump(1);
$node->safe_psql('postgres', q{UPDATE toggles.features SET is_active = false WHERE name = 'beta-banner'});
my $after = PushdHelper::current_version($node);
ok(PushdHelper::all_reached(\@clients, $after, 10), 'the next real change arrives too');
$model = PushdHelper::LogModel->load($node);
is_deeply($model->verify_stream([ $clients[0]->messages ])->{errors}, [],
	'and the stream still checks out');
is(PushdHelper::state_string($clients[0]->state), PushdHelper::state_string(PushdHelper::table_state($node)),
	'the client holds the table\'s state');

is($pushd->stop, 0, 'SIGTERM: exit status 0');
$node->stop;
done_testing();
