# Client tokens: without --allow-anonymous toggles-pushd serves only clients with a valid
# token, taken from an Authorization header, a query parameter or a second subprotocol;
# none / unknown / revoked / expired is refused with 401 at the handshake and on
# /v1/toggles; a scoped token sees only its toggles in the snapshot, changes, removals,
# resume and /v1/toggles; revocation and expiry close live connections with 4003; the
# hashes are readable by toggles-pushd's role only.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use PushdHelper;

PushdHelper::require_pushd();

my $node = PostgreSQL::Test::Cluster->new('pushd_tokens');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_toggles');

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{
	INSERT INTO toggles.features (name, is_active) VALUES
		('checkout.flow', true), ('checkout.promo', false), ('search', true), ('zz-other', true);
});
my $scoped = sql(q{SELECT toggles.create_token('web checkout', '{checkout.*}')});
my $all = sql(q{SELECT toggles.create_token('backend', '{*}')});
my $revoked = sql(q{SELECT toggles.create_token('old', '{*}')});
sql(q{SELECT toggles.revoke_token(id) FROM toggles.tokens WHERE label = 'old'});
like($scoped, qr/^tgt_[0-9a-f]{64}$/, 'create_token returns tgt_ and 64 hex digits');
isnt($scoped, $all, 'two tokens differ');

my $pushd = PushdHelper->start($node, require_token => 1);

sub names_of { return join ',', sort map { $_->{name} } @{ $_[0]{toggles} // [] }; }

# open_stream(query, %connect_opts): a client once it has its first message or was refused.
sub open_stream
{
	my ($query, %opts) = @_;
	my $c = PushdHelper::Client->connect($pushd->ws_url('/v1/stream' . ($query // '')), %opts);
	PushdHelper::wait_for($c, sub { $c->count >= 1 || $c->closed }, 10, 'a first message');
	return $c;
}

# --- refused at the handshake ----------------------------------------------------------------
my %refused = (
	'no token'      => [''],
	'unknown token' => ['?token=tgt_' . ('0' x 64)],
	'revoked token' => ["?token=$revoked"],
	'bad header'    => ['', headers => { Authorization => "Basic $all" }],
	'empty bearer'  => ['', headers => { Authorization => 'Bearer ' }],
	'overlong'      => ['?token=' . ('x' x 400)],
);
for my $what (sort keys %refused)
{
	my ($query, %opts) = @{ $refused{$what} };
	my $c = open_stream($query, %opts);
	is($c->handshake_status, 401, "$what: handshake refused with 401");
	is($c->count, 0, "$what: nothing sent");
}
{
	my ($status, $headers, $body) = $pushd->http_get('/v1/toggles');
	is($status, 401, '/v1/toggles without a token: 401');
	like($headers->{'www-authenticate'} // '', qr/^Bearer/, '... with WWW-Authenticate: Bearer');
	like($body, qr/"error":"unauthorized"/, '... and a JSON error');
	($status) = $pushd->http_get("/v1/toggles?token=$revoked");
	is($status, 401, '/v1/toggles with a revoked token: 401');
}

# --- three ways to present a token --------------------------------------------------------------
my $by_query = open_stream("?token=$scoped");
my $by_header = open_stream('', headers => { Authorization => "Bearer $scoped" });
my $by_protocol = open_stream('', protocols => ['pg-toggles.v1', $scoped]);
my $full = open_stream('', headers => { Authorization => "Bearer $all" });
for ([query => $by_query], [header => $by_header], [subprotocol => $by_protocol])
{
	my ($how, $c) = @$_;
	is($c->message(0)->{type}, 'snapshot', "token by $how: admitted, snapshot");
	is(names_of($c->message(0)), 'checkout.flow,checkout.promo', "token by $how: only its scope");
}
is($by_protocol->{tx} && $by_protocol->{tx}->protocol, 'pg-toggles.v1',
	'the server answers with the pg-toggles.v1 subprotocol');
is(names_of($full->message(0)), 'checkout.flow,checkout.promo,search,zz-other', "scope '*' sees all");

# --- changes and removals stay inside the scope ------------------------------------------------
my @scoped_clients = ($by_query, $by_header, $by_protocol);
sql(q{UPDATE toggles.features SET is_active = false WHERE name = 'search'});
sql(q{DELETE FROM toggles.features WHERE name = 'zz-other'});
sql(q{UPDATE toggles.features SET is_active = true WHERE name = 'checkout.promo'});
sql(q{DELETE FROM toggles.features WHERE name = 'checkout.flow'});
my $last = sql(q{SELECT max(version) FROM toggles.changes}) + 0;
ok(PushdHelper::wait_for([ @scoped_clients, $full ],
		sub { !grep { ($_->last_version // 0) < $last } @_ }, 10, 'the last version'),
	'every client reached the last version');
for my $c (@scoped_clients)
{
	my @changes = $c->of_type('change');
	my @names = map { $_->{name} } map { @{ $_->{toggles} // [] } } @changes;
	my @removed = map { @{ $_->{removed} // [] } } @changes;
	is(join(',', @names), 'checkout.promo', 'scoped client: changes only of its toggles');
	is(join(',', @removed), 'checkout.flow', 'scoped client: only its removal, not zz-other');
	unlike(join('', $c->texts), qr/search|zz-other/, 'scoped client: no other name in any text');
}
my @full_removed = map { @{ $_->{removed} // [] } } $full->of_type('change');
is(join(',', sort @full_removed), 'checkout.flow,zz-other', "scope '*' sees both removals");

# --- resume -------------------------------------------------------------------------------------
{
	my $since = $by_query->message(0)->{version};
	my $epoch = $by_query->message(0)->{epoch};
	my $r = open_stream("?token=$scoped&since=$since&epoch=$epoch");
	my $m = $r->message(0);
	is($m->{type}, 'change', 'scoped resume: one change');
	is(names_of($m), 'checkout.promo', 'scoped resume: only its toggles');
	is(join(',', @{ $m->{removed} // [] }), 'checkout.flow', 'scoped resume: only its removal');
	$r->close;
}

# --- /v1/toggles ----------------------------------------------------------------------------------
{
	my ($status, undef, $body) = $pushd->http_get('/v1/toggles', { Authorization => "Bearer $scoped" });
	is($status, 200, '/v1/toggles with a scoped token: 200');
	is(names_of(PushdHelper::json()->decode($body)), 'checkout.promo', '... only its scope');
	($status, undef, $body) = $pushd->http_get("/v1/toggles?token=$all");
	is(names_of(PushdHelper::json()->decode($body)), 'checkout.promo,search', "... '*' sees all");
}

# --- revocation and expiry reach live connections --------------------------------------------------
# new_token(sql): the token the query makes, once pushd has loaded it.  pushd checks tokens in
# memory and loads a new one after create_token's notification; a client faster than that
# load is refused (docs/security.md), so the test waits for the load as a user would.
sub new_token
{
	my ($query) = @_;
	my $loads = $pushd->metric('pushd_token_loads_total') // 0;
	my $token = sql($query);
	PushdHelper::wait_for([], sub { ($pushd->metric('pushd_token_loads_total') // 0) > $loads },
		10, 'the new token loaded');
	return $token;
}
{
	my $victim = new_token(q{SELECT toggles.create_token('victim', '{*}')});
	my $c = open_stream("?token=$victim");
	is($c->message(0)->{type}, 'snapshot', 'a token made while pushd runs is admitted');
	my $t0 = time;
	sql(q{SELECT toggles.revoke_token(id) FROM toggles.tokens WHERE label = 'victim'});
	ok(PushdHelper::wait_for($c, sub { $c->closed }, 10, 'the close'), 'revocation closes the connection');
	is($c->close_code, 4003, '... with 4003');
	like($c->close_reason // '', qr/revoked/, '... reason says revoked');
	note(sprintf('revocation reached the client after %.3f s', time - $t0));
	ok(time - $t0 < 5, 'within a few seconds');
	my $again = open_stream("?token=$victim");
	is($again->handshake_status, 401, 'the revoked token is refused from then on');

	my $short = new_token(q{SELECT toggles.create_token('short', '{*}', now() + interval '2 seconds')});
	my $s = open_stream("?token=$short");
	is($s->message(0)->{type}, 'snapshot', 'a token with an expiry is admitted before it');
	ok(PushdHelper::wait_for($s, sub { $s->closed }, 10, 'the expiry'), 'expiry closes the connection');
	is($s->close_code, 4003, '... with 4003');
	like($s->close_reason // '', qr/expired/, '... reason says expired');
	my $late = open_stream("?token=$short");
	is($late->handshake_status, 401, 'the expired token is refused');
}
ok($full->is_open && $by_query->is_open, 'other clients unaffected');

# --- metrics --------------------------------------------------------------------------------------
my $metrics = $pushd->metrics;
ok(($metrics->{pushd_auth_refused_total} // 0) >= 9, 'refusals counted in /metrics');
ok(($metrics->{pushd_token_closes_total} // 0) >= 2, 'token closes counted in /metrics');

# --- the hashes are nobody else's business ------------------------------------------------------------
sql(q{CREATE ROLE someone LOGIN; CREATE ROLE admin LOGIN IN ROLE toggles_admin;
	CREATE ROLE daemon LOGIN IN ROLE toggles_pushd});
my ($rc, $out, $err) = $node->psql('postgres', 'SELECT hash FROM toggles.tokens',
	extra_params => [ '-U', 'someone' ]);
like($err, qr/permission denied/, 'PUBLIC cannot read token hashes');
($rc, $out, $err) = $node->psql('postgres', 'SELECT label FROM toggles.tokens',
	extra_params => [ '-U', 'someone' ]);
like($err, qr/permission denied/, 'PUBLIC cannot read tokens at all');
($rc, $out, $err) = $node->psql('postgres', 'SELECT hash FROM toggles.tokens',
	extra_params => [ '-U', 'admin' ]);
like($err, qr/permission denied/, 'toggles_admin cannot read the hashes');
($rc, $out, $err) = $node->psql('postgres', q{SELECT count(*) FROM toggles.tokens WHERE revoked_at IS NOT NULL},
	extra_params => [ '-U', 'admin' ]);
is($out, '2', 'toggles_admin sees the tokens without hashes (two revoked)');
($rc, $out, $err) = $node->psql('postgres', q{SELECT toggles.create_token('x', '{*}')},
	extra_params => [ '-U', 'someone' ]);
like($err, qr/permission denied/, 'PUBLIC cannot make tokens');
($rc, $out, $err) = $node->psql('postgres', q{SELECT toggles.create_token('x', '{*}')},
	extra_params => [ '-U', 'daemon' ]);
like($err, qr/permission denied/, 'toggles_pushd cannot make tokens');
($rc, $out, $err) = $node->psql('postgres', q{SELECT toggles.create_token('x', '{"bad pattern"}')});
like($err, qr/invalid scope pattern/, 'a bad scope pattern is refused');
($rc, $out, $err) = $node->psql('postgres', q{SELECT toggles.create_token('x', '{}')});
like($err, qr/needs a scope/, 'an empty scope is refused');
($rc, $out, $err) = $node->psql('postgres', q{SELECT toggles.create_token('x', '{*}', now() - interval '1 s')});
like($err, qr/not in the future/, 'an expiry in the past is refused');

$_->close for grep { $_->is_open } ($by_query, $by_header, $by_protocol, $full);
$pushd->stop;
done_testing();
