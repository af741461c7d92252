# Targeting in toggles-pushd: every client gets the toggles evaluated for its context.
# Two contexts see different values; a rule change reaches exactly the client whose result
# it changes; a context message restarts the stream with a fresh snapshot; a bad context is
# refused at the handshake; /v1/toggles evaluates a context with an ETag that follows the
# body; a time window opens at the client without any write; a resume re-evaluates
# time-dependent toggles.
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

my $node = PostgreSQL::Test::Cluster->new('pushd_targeting');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_toggles');

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub version_of { return sql("SELECT version FROM toggles.features WHERE name = '$_[0]'") + 0; }

plan skip_all => 'the installed pg_toggles has no rules column (extension 0.2.0 needed)'
  unless sql(q{SELECT count(*) FROM pg_attribute
	WHERE attrelid = 'toggles.features'::regclass AND attname = 'rules'}) == 1;

sql(q{
	INSERT INTO toggles.features (name, is_active, description, rules) VALUES
		('beta', true, 'Beta for pro',
		 '[{"when": [{"attribute": "plan", "op": "equals", "value": "pro"}], "serve": true}]');
	INSERT INTO toggles.features (name, is_active, description, rules, variants) VALUES
		('colour', true, 'Colours by country',
		 '[{"when": [{"attribute": "country", "op": "in", "value": ["DE"]}], "serve": {"variant": "blue"}},
		   {"serve": {"variant": "red"}}]',
		 '{"blue": "#00f", "red": {"rgb": [255, 0, 0]}}');
	INSERT INTO toggles.features (name, is_active, description) VALUES ('sentinel', true, 'S0');
});

my $pushd = PushdHelper->start($node);
my $json = PushdHelper::json();
my %ctx = (
	pro  => { key => 'user-1', plan => 'pro', country => 'DE' },
	free => { key => 'user-2', plan => 'free', country => 'FR' },
);

sub query_of { return 'context=' . Mojo::Util::url_escape($json->encode($_[0])); }

sub connect_with
{
	my ($context, $extra) = @_;
	my $c = PushdHelper::Client->connect(
		$pushd->ws_url('/v1/stream?' . query_of($context) . ($extra // '')));
	PushdHelper::wait_for($c, sub { $c->count >= 1 || $c->closed }, 10, 'a first message');
	return $c;
}

# toggle_in(message, name): the toggle called name in a snapshot or change, or undef.
sub toggle_in
{
	my ($m, $name) = @_;
	my ($t) = grep { $_->{name} eq $name } @{ ($m // {})->{toggles} // [] };
	return $t;
}

sub result_of
{
	my ($t) = @_;
	return 'absent' unless $t;
	return join ' ', ($t->{active} ? 'on' : 'off'), $t->{reason} // '?',
	  $t->{variant} // '-', exists $t->{value} ? $json->encode($t->{value}) : '-';
}

# --- two contexts, two views -------------------------------------------------------------
my $pro = connect_with($ctx{pro});
my $free = connect_with($ctx{free});
my ($sp, $sf) = ($pro->message(0), $free->message(0));
is($sp && $sp->{type}, 'snapshot', 'a client with a context gets a snapshot');
is(result_of(toggle_in($sp, 'beta')), 'on TARGETING_MATCH - -', 'pro: beta on by its rule');
is(result_of(toggle_in($sf, 'beta')), 'off DEFAULT - -', 'free: beta off, no rule matched');
is(result_of(toggle_in($sp, 'colour')), 'on TARGETING_MATCH blue "#00f"', 'DE: variant blue and its value');
is(result_of(toggle_in($sf, 'colour')), 'on TARGETING_MATCH red {"rgb":[255,0,0]}',
	'FR: variant red, a JSON value');
is(result_of(toggle_in($sp, 'sentinel')), 'on DEFAULT - -', 'a plain toggle: on, DEFAULT, no variant');
ok(!exists toggle_in($sp, 'sentinel')->{value}, 'a toggle without a variant carries no value');
cmp_ok($pushd->metric('pushd_groups'), '>=', 2, 'two contexts, (at least) two groups');

# --- a rule change that flips exactly one of them ------------------------------------------
sql(q{UPDATE toggles.features SET rules =
	'[{"when": [{"attribute": "plan", "op": "in", "value": ["pro", "free"]}], "serve": true}]'
	WHERE name = 'beta'});
my $v_rule = version_of('beta');
sql(q{UPDATE toggles.features SET description = 'S1' WHERE name = 'sentinel'});
my $v_sentinel = version_of('sentinel');
PushdHelper::all_reached([ $pro, $free ], $v_sentinel, 10);
my @pro_changes = $pro->of_type('change');
my @free_changes = $free->of_type('change');
is_deeply([ map { $_->{version} } @pro_changes ], [$v_sentinel],
	'pro, whose result did not change, got nothing for the rule change, only the sentinel');
is_deeply([ map { $_->{version} } @free_changes ], [ $v_rule, $v_sentinel ],
	'free got the rule change, then the sentinel, in commit order');
is_deeply([ map { $_->{name} } @{ $free_changes[0]{toggles} // [] } ], ['beta'],
	'... the rule change holds only the toggle it flipped');
is(result_of(toggle_in($free_changes[0], 'beta')), 'on TARGETING_MATCH - -', '... now on for free');
is_deeply([ map { $_->{name} } @{ $pro_changes[0]{toggles} // [] } ], ['sentinel'],
	'the sentinel change holds only the sentinel');

# --- a context message: a fresh snapshot; a bad one: an error, the connection stays ---------
my $before = $pro->count;
$pro->send_json({ type => 'context', context => { key => 'user-1', plan => 'pro', country => 'FR' } });
PushdHelper::wait_for($pro, sub { $pro->count > $before }, 10, 'the answer to a context message');
my $fresh = $pro->message($before) // {};
is($fresh->{type}, 'snapshot', 'a context message is answered with a snapshot');
is($fresh->{version}, $v_sentinel, '... at the current version');
is(result_of(toggle_in($fresh, 'colour')), 'on TARGETING_MATCH red {"rgb":[255,0,0]}',
	'... evaluated for the new context');

# toggles.connections records each connection's context, and follows a change.
ok(PushdHelper::wait_for([], sub {
	sql(q{SELECT count(*) FROM toggles.connections
		WHERE context = '{"key":"user-1","plan":"pro","country":"FR"}'::jsonb}) == 1
	  && sql(q{SELECT count(*) FROM toggles.connections
		WHERE context = '{"key":"user-2","plan":"free","country":"FR"}'::jsonb}) == 1
}, 10, 'the contexts in toggles.connections'), 'toggles.connections holds each client\'s current context');

for my $bad ([ 'not an object', '{"type":"context","context":[1,2]}' ],
	[ 'no context member', '{"type":"context"}' ],
	[ 'a string', '{"type":"context","context":"plan=pro"}' ])
{
	$before = $pro->count;
	$pro->send_text($bad->[1]);
	my $pong = $pro->barrier(10);
	my ($err) = grep { ($_->{type} // '') eq 'error' } map { $pro->message($_) } $before .. $pro->count - 1;
	is($err && $err->{error}, 'invalid_context', "context message, $bad->[0]: an invalid_context error");
	ok($pong && $pro->is_open, "... and the connection stays open");
}
like((map { $_->{message} } grep { ($_->{type} // '') eq 'error' } $pro->messages)[0] // '', qr/\S/,
	'the error says what is wrong');
$before = $pro->count;
sql(q{UPDATE toggles.features SET description = 'S2' WHERE name = 'sentinel'});
PushdHelper::all_reached([$pro], version_of('sentinel'), 10);
is(scalar(grep { ($_->{type} // '') eq 'snapshot' } map { $pro->message($_) } $before .. $pro->count - 1), 0,
	'after a refused context the stream goes on without a snapshot');

# --- invalid contexts at the handshake: 400 --------------------------------------------------
for my $bad ([ 'not JSON', '%7Bnope' ], [ 'an array', '%5B1%5D' ],
	[ 'too large', Mojo::Util::url_escape($json->encode({ key => 'x' x 5000 })) ])
{
	my $raw = PushdHelper::RawClient->connect(port => $pushd->port);
	my ($status) = $raw->upgrade(path => "/v1/stream?context=$bad->[1]");
	is($status, 400, "handshake with a context that is $bad->[0]: 400");
	my $deadline = time + 5;
	$raw->_fill($deadline - time) while $raw->{buf} !~ /\}/ && !$raw->{eof} && time < $deadline;
	like($raw->{buf}, qr/"error":"invalid_context"/, '... with a JSON body naming the problem');
	$raw->close;
}
my $big = { key => 'k', pad => 'x' x 3900 };
my $ok_big = PushdHelper::Client->connect($pushd->ws_url('/v1/stream?' . query_of($big)));
PushdHelper::wait_for($ok_big, sub { $ok_big->count >= 1 || $ok_big->closed }, 10, 'a 4 KB context');
is(($ok_big->message(0) // {})->{type}, 'snapshot', 'a context just under 4 KiB, percent-encoded, is taken');
$ok_big->close;

# --- GET /v1/toggles?context=... -------------------------------------------------------------
my %etag;
for my $who (qw(pro free))
{
	my ($status, $h, $body) = $pushd->http_get('/v1/toggles?' . query_of($ctx{$who}));
	is($status, 200, "/v1/toggles with the $who context: 200");
	my $doc = eval { $json->decode($body) } // {};
	is($doc->{type}, 'snapshot', '... a snapshot');
	$etag{$who} = $h->{etag};
	is(result_of(toggle_in($doc, 'colour')),
		$who eq 'pro' ? 'on TARGETING_MATCH blue "#00f"' : 'on TARGETING_MATCH red {"rgb":[255,0,0]}',
		'... evaluated for that context');
}
isnt($etag{pro}, $etag{free}, 'two contexts with different bodies: different ETags');
my ($status) = $pushd->http_get('/v1/toggles?' . query_of($ctx{pro}), { 'If-None-Match' => $etag{pro} });
is($status, 304, 'If-None-Match with the context\'s ETag: 304');
($status) = $pushd->http_get('/v1/toggles?' . query_of($ctx{free}), { 'If-None-Match' => $etag{pro} });
is($status, 200, 'another context\'s ETag does not match: 200');
($status, undef, my $body) = $pushd->http_get('/v1/toggles?context=%7Bnope');
is($status, 400, '/v1/toggles with an invalid context: 400');
like($body, qr/invalid_context/, '... saying why');

sql(q{UPDATE toggles.features SET variants = '{"blue": "#00e", "red": {"rgb": [255, 0, 0]}}'
	WHERE name = 'colour'});
$pushd->wait_version(version_of('colour'), 10);
my ($st2, $h2, $b2) = $pushd->http_get('/v1/toggles?' . query_of($ctx{pro}), { 'If-None-Match' => $etag{pro} });
is($st2, 200, 'after a change of the body the old ETag no longer matches');
isnt($h2->{etag}, $etag{pro}, '... the ETag changed');
like($b2, qr/"#00e"/, '... and the body has the new value');

# --- a window opens, with no write -----------------------------------------------------------
# Whole seconds, 3 s ahead of the database's clock (which is this machine's).
sub window_rules
{
	my ($seconds) = @_;
	return sql(qq{SELECT jsonb_build_array(jsonb_build_object('when', jsonb_build_array(
		jsonb_build_object('window', jsonb_build_object('from',
			to_char((date_trunc('second', clock_timestamp()) + interval '$seconds seconds')
				AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))),
		'serve', true))});
}
my $watcher = connect_with($ctx{free});
my $rules = window_rules(3);
sql(qq{INSERT INTO toggles.features (name, is_active, description, rules)
	VALUES ('soon', true, 'Opens soon', '$rules')});
my $v_soon = version_of('soon');
PushdHelper::all_reached([$watcher], $v_soon, 10);
is(result_of(toggle_in($watcher->last, 'soon')), 'off DEFAULT - -', 'a window in the future: off');
my $t0 = time;
my $opened;
PushdHelper::wait_for($watcher, sub {
	($opened) = grep { ($_->{cause} // '') eq 'schedule' } $watcher->of_type('change');
	return $opened;
}, 10, 'the window to open');
ok($opened, 'the window opening reaches the client without any write');
diag(sprintf('schedule change after %.1f s (window 3 s ahead)', time - $t0)) if $opened;
is($opened && $opened->{version}, $v_soon, '... with the version the client has');
is(result_of(toggle_in($opened, 'soon')), 'on SCHEDULE - -', '... turning it on, reason SCHEDULE');
is_deeply([ map { $_->{name} } @{ ($opened // {})->{toggles} // [] } ], ['soon'], '... and nothing else');
is(sql('SELECT max(version) FROM toggles.changes') + 0, $v_soon, 'no write happened meanwhile');
cmp_ok($pushd->metric('pushd_schedule_changes_total'), '>=', 1, 'pushd_schedule_changes_total counts it');

# --- a resume re-evaluates time-dependent toggles ----------------------------------------------
$rules = window_rules(3);
sql(qq{INSERT INTO toggles.features (name, is_active, description, rules)
	VALUES ('later', true, 'Opens later', '$rules')});
my $v_later = version_of('later');
$pushd->wait_version($v_later, 10);
my $leaving = connect_with($ctx{free});
is(result_of(toggle_in($leaving->message(0), 'later')), 'off DEFAULT - -', 'before leaving: later is off');
my $epoch = $leaving->epoch;
$leaving->close;
PushdHelper::wait_for([], sub {
	my ($s, undef, $b) = $pushd->http_get('/v1/toggles?' . query_of($ctx{free}));
	my $t = toggle_in(eval { $json->decode($b) }, 'later');
	return $t && $t->{active};
}, 10, 'the later window to open');
my $back = connect_with($ctx{free}, "&since=$v_later&epoch=$epoch");
my $m = $back->message(0) // {};
is($m->{type}, 'change', 'resume with since: a change');
is($m->{version}, $v_later, '... at the current version (nothing was written)');
is(result_of(toggle_in($m, 'later')), 'on SCHEDULE - -', '... with the time-dependent toggle re-evaluated');

$_->close for ($pro, $free, $watcher, $back);
PushdHelper::wait_for([ $pro, $free, $watcher, $back ], sub { !grep { !$_->closed } @_ }, 10, 'the clients to close');
is($pushd->stop, 0, 'SIGTERM: exit status 0');
$node->stop;
done_testing();
