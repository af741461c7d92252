# Least privilege: toggles-pushd runs as a LOGIN role that holds toggles_pushd and nothing
# else.  It serves (snapshot, changes), keeps its connection rows (register, heartbeat,
# reap, prune), and the same role cannot change a toggle, write the log or the connection
# rows directly, draw versions, alter the schema, read the log's old row images or make
# tokens (docs/security.md, "Least privilege").
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PushdHelper;

PushdHelper::require_pushd();

my $node = PostgreSQL::Test::Cluster->new('pushd_least_privilege');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_toggles;
	CREATE ROLE pushd_login LOGIN;
	GRANT toggles_pushd TO pushd_login;
	INSERT INTO toggles.features (name, is_active, description)
		VALUES ('dark-mode', false, 'Dark theme'), ('beta-banner', true, 'Beta');
});
is($node->safe_psql('postgres', q{
	SELECT string_agg(b.rolname, ',' ORDER BY b.rolname) FROM pg_auth_members m
	JOIN pg_roles r ON r.oid = m.member JOIN pg_roles b ON b.oid = m.roleid
	WHERE r.rolname = 'pushd_login'}), 'toggles_pushd', 'pushd_login is a member of toggles_pushd only');
is($node->safe_psql('postgres', q{SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls
	FROM pg_roles WHERE rolname = 'pushd_login'}), 'f', 'and has no attribute beyond LOGIN');

my $pushd = PushdHelper->start($node, node => 'least-privilege',
	db => $node->connstr('postgres') . ' user=pushd_login',
	args => [ '--register-interval', 50, '--heartbeat-interval', 1, '--prune-interval', 1 ]);
is($node->safe_psql('postgres', q{SELECT usename FROM pg_stat_activity WHERE application_name = 'toggles-pushd'}),
	'pushd_login', 'pushd is connected as pushd_login');

# --- it serves ------------------------------------------------------------------------------
my @clients = map { PushdHelper::Client->connect($pushd->ws_url, headers => { 'User-Agent' => "lp-$_" }) } 1 .. 3;
ok(PushdHelper::wait_for(\@clients, sub { !grep { $_->count < 1 } @_ }, 20, 'snapshots'), 'clients get snapshots');
$node->safe_psql('postgres', q{UPDATE toggles.features SET is_active = true WHERE name = 'dark-mode'});
my $v = PushdHelper::current_version($node);
ok(PushdHelper::all_reached(\@clients, $v, 20), 'and changes');
my $rows = sub { $node->safe_psql('postgres', q{SELECT count(*) FROM toggles.connections WHERE node = 'least-privilege'}) };
ok(PushdHelper::wait_for([], sub { $rows->() == 3 }, 20), 'its connections are registered in toggles.connections')
  or diag('rows: ' . $rows->());
my $seen0 = $node->safe_psql('postgres', q{SELECT max(last_seen) FROM toggles.connections WHERE node = 'least-privilege'});
ok(PushdHelper::wait_for([], sub {
	$node->safe_psql('postgres', qq{SELECT max(last_seen) > '$seen0' FROM toggles.connections WHERE node = 'least-privilege'}) eq 't' },
	20), 'its heartbeat refreshes them');
$clients[0]->close;
ok(PushdHelper::wait_for([], sub { $rows->() == 2 }, 20), 'a closed connection is unregistered');
PushdHelper::pump(1.5);    # a prune and a reap have run
unlike($pushd->log_contents, qr/permission denied|query failed/, 'no query of pushd was refused (load, catch-up, register, heartbeat, reap, prune)');

# --- what the role cannot do ---------------------------------------------------------------------
my $state0 = $node->safe_psql('postgres', q{SELECT string_agg(name || '=' || is_active || '@' || version, ',' ORDER BY name) FROM toggles.features});
my $log0 = $node->safe_psql('postgres', q{SELECT count(*) || '/' || max(version) FROM toggles.changes});

# denied(sql, what): the statement fails for pushd_login with a privilege error.
sub denied
{
	my ($sql, $what) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => [ '-U', 'pushd_login', '-v', 'ON_ERROR_STOP=1' ]);
	ok($ret != 0 && $err =~ /permission denied|must be owner|must be superuser/,
		"pushd_login cannot $what") or diag("ret $ret, stdout '$out', stderr '$err'");
}
# allowed(sql, what): the statement works for pushd_login.
sub allowed
{
	my ($sql, $what) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => [ '-U', 'pushd_login', '-v', 'ON_ERROR_STOP=1' ]);
	ok($ret == 0, "pushd_login can $what") or diag("stderr '$err'");
	return $out;
}

denied(q{UPDATE toggles.features SET is_active = NOT is_active}, 'UPDATE toggles.features (flip a toggle)');
denied(q{UPDATE toggles.features SET description = 'x' WHERE name = 'dark-mode'}, 'UPDATE a description');
denied(q{INSERT INTO toggles.features (name) VALUES ('evil')}, 'INSERT INTO toggles.features');
denied(q{DELETE FROM toggles.features}, 'DELETE FROM toggles.features');
denied(q{TRUNCATE toggles.features}, 'TRUNCATE toggles.features');
denied(q{COPY toggles.features (name) FROM stdin}, 'COPY into toggles.features');
denied(q{SELECT toggles.set('dark-mode', false)}, 'call toggles.set()');
denied(q{INSERT INTO toggles.changes (version, operation, name, changed_by, db_user) VALUES (999999, 'insert', 'x', 'x', 'x')},
	'INSERT INTO toggles.changes (forge the log)');
denied(q{UPDATE toggles.changes SET name = 'x'}, 'UPDATE toggles.changes');
denied(q{DELETE FROM toggles.changes}, 'DELETE FROM toggles.changes');
denied(q{INSERT INTO toggles.connections (node, conn_id) VALUES ('x', 1)}, 'INSERT INTO toggles.connections directly');
denied(q{UPDATE toggles.connections SET peer = '10.0.0.1'}, 'UPDATE toggles.connections directly');
denied(q{DELETE FROM toggles.connections}, 'DELETE FROM toggles.connections directly');
denied(q{SELECT * FROM toggles.connections}, 'read toggles.connections (peer addresses, user agents)');
denied(q{SELECT nextval('toggles.version_seq')}, 'draw a version');
denied(q{SELECT setval('toggles.version_seq', 1)}, 'reset the version sequence');
denied(q{UPDATE toggles.instance SET created_at = now()}, 'change the epoch\'s instance');
denied(q{ALTER TABLE toggles.features DISABLE TRIGGER ALL}, 'disable the triggers');
denied(q{DROP TABLE toggles.changes}, 'drop the log');
denied(q{CREATE TABLE toggles.evil (x int)}, 'create objects in schema toggles');
denied(q{CREATE FUNCTION toggles.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'}, 'create functions in schema toggles');
denied(q{SET session_replication_role = replica}, 'set session_replication_role (the restore path)');
denied(q{ALTER EXTENSION pg_toggles UPDATE}, 'alter the extension');

# Through its SECURITY DEFINER functions it still cannot reach a toggle.
allowed(q{SELECT toggles.register_connections('least-privilege', '[{"id":999,"peer":"127.0.0.1"}]')},
	'call register_connections (its job)');
allowed(q{SELECT toggles.unregister_connections('least-privilege', '{999}')}, 'call unregister_connections');
allowed(q{SELECT toggles.snapshot()}, 'read toggles.snapshot()');
allowed(q{SELECT version, operation, name, new, id FROM toggles.changes ORDER BY version DESC LIMIT 1},
	'read the log columns it uses');

is($node->safe_psql('postgres', q{SELECT string_agg(name || '=' || is_active || '@' || version, ',' ORDER BY name) FROM toggles.features}),
	$state0, 'the toggles are as they were');
is($node->safe_psql('postgres', q{SELECT count(*) || '/' || max(version) FROM toggles.changes}), $log0,
	'the log is as it was');

# --- nothing of the log beyond what it serves ------------------------------------------------------
denied(q{SELECT old FROM toggles.changes LIMIT 1}, 'read the old row images of the log (it only needs new)');
denied(q{SELECT db_user FROM toggles.changes LIMIT 1}, 'read which database user made each change');
denied(q{INSERT INTO toggles.tokens (label, hash, scope) VALUES ('x', sha256('x'), '{*}')}, 'make a token');
denied(q{SELECT toggles.create_token('x', '{*}')}, 'call create_token');
denied(q{UPDATE toggles.tokens SET revoked_at = NULL}, 'un-revoke a token');
allowed(q{SELECT count(hash) FROM toggles.tokens}, 'read the token hashes it checks clients against');

ok($pushd->alive, 'pushd is running');
$_->close for @clients;
is($pushd->stop, 0, 'SIGTERM: exit status 0');
is($rows->(), 0, 'at shutdown its rows are removed (unregister_node as pushd_login)');
$node->stop;
done_testing();
