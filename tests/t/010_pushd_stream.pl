# toggles-pushd end to end: the snapshot on connect, one change per committed
# transaction with exactly what it changed, nothing for a rollback, the HTTP endpoints
# (snapshot with ETag, health, metrics) and the ping.  The daemon runs as a role that
# has only the documented toggles_pushd privileges.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PushdHelper;

PushdHelper::require_pushd();

my $node = PostgreSQL::Test::Cluster->new('pushd_stream');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	CREATE ROLE pushd LOGIN IN ROLE toggles_pushd;
	INSERT INTO toggles.features (name, is_active, description) VALUES
		('dark-mode', true, 'Dark theme'),
		('beta-banner', false, 'Banner for beta users'),
		('new-checkout', false, '');
});

my $pushd = PushdHelper->start($node, db => $node->connstr('postgres') . ' user=pushd');

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub version_of { return sql(qq{SELECT version FROM toggles.features WHERE name = '$_[0]'}) + 0; }

# --- snapshot on connect -------------------------------------------------------------
my $epoch = sql('SELECT toggles.epoch()');
my $db_snapshot = PushdHelper::json()->decode(sql('SELECT toggles.snapshot()'));

my $c = PushdHelper::Client->connect($pushd->ws_url('/v1/stream'));
ok(PushdHelper::wait_for($c, sub { $c->count >= 1 }, 10, 'the first message'),
	'a fresh connection gets a first message');
my $snap = $c->message(0) // {};
is($snap->{type}, 'snapshot', 'the first message is a snapshot');
is($snap->{epoch}, $epoch, 'snapshot epoch is toggles.epoch()');
is($snap->{version}, $db_snapshot->{version}, 'snapshot version is the database version');
is_deeply([ map { $_->{name} } @{ $snap->{toggles} // [] } ],
	[qw(beta-banner dark-mode new-checkout)], 'snapshot toggles sorted by name');
is_deeply([ map { [ sort keys %$_ ] } @{ $snap->{toggles} // [] } ],
	[ ([qw(active description name reason updated_at variant version)]) x 3 ],
	'each toggle has name, active, variant, reason, version, description, updated_at');
is_deeply([ map { [ $_->{variant}, $_->{reason} ] } @{ $snap->{toggles} // [] } ],
	[ map { [ undef, $_->{active} ? 'DEFAULT' : 'DISABLED' ] } @{ $snap->{toggles} // [] } ],
	'a plain toggle: no variant, reason DEFAULT when on, DISABLED when off');
for my $t (@{ $snap->{toggles} // [] })
{
	my ($want) = grep { $_->{name} eq $t->{name} } @{ $db_snapshot->{toggles} };
	ok(PushdHelper::same_toggle($t, $want), "snapshot: $t->{name} as in the table");
	ok(JSON::PP::is_bool($t->{active}), "snapshot: $t->{name} active is a JSON boolean");
	like($t->{updated_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d(:?\d\d)?)$/,
		"snapshot: $t->{name} updated_at is ISO 8601");
	is(sql(qq{SELECT updated_at = '$t->{updated_at}'::timestamptz FROM toggles.features
		WHERE name = '$t->{name}'}), 't', "snapshot: $t->{name} updated_at is the row's");
}

# --- one change per transaction --------------------------------------------------------
my $expected = 1;    # messages the client should have so far

# change_ok(what, \%toggles, \@removed, version): the next message is exactly that change.
sub change_ok
{
	my ($what, $toggles, $removed, $version) = @_;
	$expected++;
	PushdHelper::wait_for($c, sub { $c->count >= $expected }, 10, "the change of $what");
	my $m = $c->message($expected - 1) // {};
	my $ok = is($m->{type}, 'change', "$what: a change message");
	$ok &&= is($m->{version}, $version, "$what: version $version");
	my %got = map { $_->{name} => $_ } @{ $m->{toggles} // [] };
	$ok &&= is(join(',', sort keys %got), join(',', sort keys %$toggles), "$what: the toggles it changed");
	for my $name (sort keys %$toggles)
	{
		my $want = { name => $name, %{ $toggles->{$name} } };
		$ok &&= ok(PushdHelper::same_toggle($got{$name} // {}, $want), "$what: $name as committed")
		  or diag(explain($got{$name}));
	}
	$ok &&= is_deeply([ sort @{ $m->{removed} // [] } ], [ sort @$removed ], "$what: removed");
	return $ok;
}

sql(q{INSERT INTO toggles.features (name, description) VALUES ('search-v2', 'New search page')});
my $v_insert = version_of('search-v2');
change_ok('insert', { 'search-v2' => { active => 0, version => $v_insert, description => 'New search page' } },
	[], $v_insert);

sql(q{UPDATE toggles.features SET is_active = true WHERE name = 'search-v2'});
my $v_update = version_of('search-v2');
cmp_ok($v_update, '>', $v_insert, 'the update has a newer version');
change_ok('update', { 'search-v2' => { active => 1, version => $v_update, description => 'New search page' } },
	[], $v_update);

sql(q{DELETE FROM toggles.features WHERE name = 'beta-banner'});
my $v_delete = sql(q{SELECT max(version) FROM toggles.changes WHERE name = 'beta-banner'}) + 0;
change_ok('delete', {}, ['beta-banner'], $v_delete);

# Three toggles in one transaction: one message, never split.
sql(q{
	BEGIN;
	UPDATE toggles.features SET is_active = false WHERE name = 'dark-mode';
	INSERT INTO toggles.features (name, is_active, description) VALUES ('x-ray', true, 'X');
	UPDATE toggles.features SET is_active = true, description = 'Checkout v2' WHERE name = 'new-checkout';
	COMMIT;
});
my $v_three = version_of('x-ray');
change_ok('3-toggle transaction', {
		'dark-mode'    => { active => 0, version => $v_three, description => 'Dark theme' },
		'new-checkout' => { active => 1, version => $v_three, description => 'Checkout v2' },
		'x-ray'        => { active => 1, version => $v_three, description => 'X' },
	}, [], $v_three);

# A rolled-back transaction: nothing.  The marker committed after it must be the very
# next message.
sql(q{
	BEGIN;
	UPDATE toggles.features SET is_active = false WHERE name = 'search-v2';
	INSERT INTO toggles.features (name) VALUES ('ghost');
	DELETE FROM toggles.features WHERE name = 'x-ray';
	ROLLBACK;
});
sql(q{UPDATE toggles.features SET description = 'marker' WHERE name = 'dark-mode'});
my $v_marker = version_of('dark-mode');
change_ok('marker after a rollback',
	{ 'dark-mode' => { active => 0, version => $v_marker, description => 'marker' } }, [], $v_marker);
ok(!grep({ $_->{name} eq 'ghost' } map { @{ $_->{toggles} // [] } } $c->messages),
	'the rolled-back insert never arrived');

# Everything queued has arrived by the pong: no duplicate or extra message.
my $pong = $c->barrier(10);
is($pong && $pong->{type}, 'pong', '{"type":"ping"} is answered with a pong');
is($pong && $pong->{version}, $v_marker, 'the pong carries the current version');
is($c->count, $expected + 1, 'exactly one message per committed transaction (and the pong)');
is(PushdHelper::state_string($c->state), PushdHelper::state_string(PushdHelper::table_state($node)),
	'the replayed stream equals the table');

# "/" is the stream too.
my $root = PushdHelper::Client->connect($pushd->ws_url('/'));
PushdHelper::wait_for($root, sub { $root->count >= 1 || $root->closed }, 10, 'a snapshot on /');
is($root->message(0) && $root->message(0)->{type}, 'snapshot', 'a WebSocket on / gets a snapshot');
is($root->message(0) && $root->message(0)->{version}, $v_marker, '... at the current version');
$root->close;
PushdHelper::wait_for($root, sub { $root->closed }, 10, 'the second client to close');

# --- GET /v1/toggles ---------------------------------------------------------------------
my ($status, $headers, $body) = $pushd->http_get('/v1/toggles');
is($status, 200, 'GET /v1/toggles: 200');
like($headers->{'content-type'} // '', qr{^application/json}, 'GET /v1/toggles: application/json');
my $http_snap = eval { PushdHelper::json()->decode($body) } // {};
is($http_snap->{type}, 'snapshot', 'GET /v1/toggles: a snapshot message');
is($http_snap->{epoch}, $epoch, 'GET /v1/toggles: epoch');
is($http_snap->{version}, $v_marker, 'GET /v1/toggles: current version');
is(PushdHelper::state_string({ map { $_->{name} => PushdHelper::toggle_of($_) } @{ $http_snap->{toggles} // [] } }),
	PushdHelper::state_string(PushdHelper::table_state($node)), 'GET /v1/toggles: the table');
my $etag = $headers->{etag};
like($etag // '', qr/^"\Q$epoch\E-$v_marker-[0-9a-f]{16}"$/, 'ETag is "EPOCH-VERSION-BODYHASH"');

($status, undef, $body) = $pushd->http_get('/v1/toggles', { 'If-None-Match' => $etag // '"none"' });
is($status, 304, 'If-None-Match with the current ETag: 304');
is($body, '', '304 has no body');
($status) = $pushd->http_get('/v1/toggles', { 'If-None-Match' => 'W/' . ($etag // '"none"') });
is($status, 304, '... its weak form W/ too (If-None-Match compares weakly)');
($status) = $pushd->http_get('/v1/toggles', { 'If-None-Match' => '"a,b", ' . ($etag // '"none"') });
is($status, 304, '... and a list holding it');

sql(q{UPDATE toggles.features SET is_active = true WHERE name = 'dark-mode'});
my $v_flip = version_of('dark-mode');
PushdHelper::all_reached([$c], $v_flip, 10);
($status, $headers) = $pushd->http_get('/v1/toggles', { 'If-None-Match' => $etag // '"none"' });
is($status, 200, 'after a flip the old ETag no longer matches: 200');
isnt($headers->{etag}, $etag, 'after a flip the ETag changes');
like($headers->{etag} // '', qr/^"\Q$epoch\E-$v_flip-[0-9a-f]{16}"$/, '... naming the new version');

# --- /healthz, /metrics --------------------------------------------------------------------
($status, $headers, $body) = $pushd->http_get('/healthz');
is($status, 200, '/healthz: 200');
my $health = eval { PushdHelper::json()->decode($body) } // {};
is($health->{status}, 'ok', '/healthz: status ok');
is($health->{database}, 'up', '/healthz: database up');
is($health->{epoch}, $epoch, '/healthz: epoch');
is($health->{version}, $v_flip, '/healthz: version');

($status, $headers, $body) = $pushd->http_get('/metrics');
is($status, 200, '/metrics: 200');
like($headers->{'content-type'} // '', qr{^text/plain}, '/metrics: text/plain');
for my $name (qw(pushd_clients pushd_groups pushd_evaluations_total pushd_schedule_reevaluations_total
	pushd_schedule_changes_total pushd_messages_sent_total pushd_bytes_sent_total
	pushd_changes_applied_total pushd_last_version pushd_epoch_changes_total pushd_database_up
	pushd_reconnects_total pushd_coalesced_total pushd_culled_clients_total
	pushd_notifications_total pushd_notifications_ignored_total pushd_notification_queue_usage
	pushd_notify_to_send_seconds_bucket pushd_notify_to_send_seconds_sum
	pushd_notify_to_send_seconds_count))
{
	like($body, qr/^\Q$name\E(\{[^}]*\})? \S+$/m, "/metrics has $name");
}
my $m = PushdHelper::parse_metrics($body);
is($pushd->metric('pushd_clients', $m), 1, 'pushd_clients counts the one open stream');
is($pushd->metric('pushd_database_up', $m), 1, 'pushd_database_up is 1');
is($pushd->metric('pushd_last_version', $m), $v_flip, 'pushd_last_version is the current version');
cmp_ok($pushd->metric('pushd_changes_applied_total', $m) // 0, '>=', 6, 'pushd_changes_applied_total counts the changes');
cmp_ok($pushd->metric('pushd_messages_sent_total', $m) // 0, '>=', 9, 'pushd_messages_sent_total counts the messages');
like($body, qr/^pushd_notify_to_send_seconds_bucket\{[^}]*le="\+Inf"[^}]*\} \d+/m,
	'the latency histogram has a +Inf bucket');

# --- unknown path -----------------------------------------------------------------------
($status) = $pushd->http_get('/v2/nothing-here');
is($status, 404, 'an unknown path: 404');

$c->close;
PushdHelper::wait_for($c, sub { $c->closed }, 10, 'the client to close');
is($pushd->stop, 0, 'SIGTERM: exit status 0');
$node->stop;
done_testing();
