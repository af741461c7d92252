# pg_dump keeps the toggles, the change log and the counters; a restore is a new epoch,
# and versions and log ids go on rising after it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE DATABASE source;
});
$node->safe_psql('source', q{
	CREATE EXTENSION pg_toggles;
	INSERT INTO toggles.features (name, is_active, description)
	VALUES ('dark-mode', true, 'Dark theme'), ('new-checkout', false, repeat('x', 10000));
	UPDATE toggles.features SET is_active = true WHERE name = 'new-checkout';
	DELETE FROM toggles.features WHERE name = 'dark-mode';
	INSERT INTO toggles.features (name) VALUES ('dark-mode');
	INSERT INTO toggles.features (name, is_active, rules, variants)
	VALUES ('banner', true,
	        '[{"when": [{"window": {"start": "09:00", "end": "17:00", "tz": "Europe/Berlin"}}],
	           "serve": {"variant": "big"}}, {"serve": {"percentage": 10}}]',
	        '{"big": {"size": 3}}');
});

my $features_q = q{SELECT name, is_active, description, version, created_at, updated_at, updated_by,
	rules, variants FROM toggles.features ORDER BY name};
my $changes_q = q{SELECT id, version, operation, name, old, new, changed_by, db_user, changed_at
	FROM toggles.changes ORDER BY id};
my $features = $node->safe_psql('source', $features_q);
my $changes  = $node->safe_psql('source', $changes_q);
my $epoch    = $node->safe_psql('source', 'SELECT toggles.epoch()');
my $version  = $node->safe_psql('source', q{SELECT toggles.snapshot() ->> 'version'});

my $dump = $PostgreSQL::Test::Utils::tmp_check . '/source.dump';
my $plain = $PostgreSQL::Test::Utils::tmp_check . '/source.sql';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('source') ],
	'pg_dump -Fc of a database with pg_toggles');
$node->command_ok([ 'pg_dump', '-f', $plain, '-d', $node->connstr('source') ],
	'pg_dump (plain SQL) of a database with pg_toggles');

# restored_ok DB, HOW: checks a restored database against the source.
sub restored_ok
{
	my ($db, $how) = @_;
	is($node->safe_psql($db, $features_q), $features, "$how: toggles restored verbatim");
	is($node->safe_psql($db, $changes_q), $changes, "$how: change log restored verbatim");
	is($node->safe_psql($db, q{SELECT toggles.snapshot() ->> 'version'}), $version,
		"$how: snapshot version restored");
	isnt($node->safe_psql($db, 'SELECT toggles.epoch()'), $epoch, "$how: a restore is a new epoch");
	is($node->safe_psql($db,
			q{SELECT length(description) FROM toggles.features WHERE name = 'new-checkout'}),
		'10000', "$how: 10,000-character description survives");

	# Writing after the restore continues the version and log id counters.
	$node->safe_psql($db, q{UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'dark-mode'});
	my ($new_version, $new_id) = split /\|/,
	  $node->safe_psql($db, q{SELECT version, id FROM toggles.changes ORDER BY id DESC LIMIT 1});
	my ($old_version, $old_id) = split /\|/,
	  $node->safe_psql('source', q{SELECT max(version), max(id) FROM toggles.changes});
	cmp_ok($new_version, '>', $old_version, "$how: versions go on rising");
	cmp_ok($new_id, '>', $old_id, "$how: log ids go on rising");
}

# A plain pg_restore: the superuser's COPY with versions is taken as a restore.
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
	'pg_restore');
restored_ok('restored', 'pg_restore');

# A plain-format dump fed to psql.
$node->safe_psql('postgres', 'CREATE DATABASE restored_sql');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $plain, '-d', $node->connstr('restored_sql') ],
	'psql -f dump.sql');
restored_ok('restored_sql', 'psql');

# With triggers off (replica role), the same.
$node->safe_psql('postgres', 'CREATE DATABASE restored_replica');
{
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	$node->command_ok(
		[ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored_replica'), $dump ],
		'pg_restore with session_replication_role=replica');
}
restored_ok('restored_replica', 'replica role');

$node->stop;
done_testing();
