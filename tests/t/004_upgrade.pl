# The version chain: every released version upgrades, step by step, to the default one,
# and the result equals a fresh install of it.  Toggles made before the update keep their
# values, versions and log, evaluate as before, and the change stream goes on, also in a
# session that wrote toggles before the update.  META.json's version is the control file's.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use ListenerHelper;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use JSON::PP;
use Test::More;

# The source tree: tests/ is the working directory under scripts/test.sh, the top one
# under make installcheck, so it is found from where this file is.
my $top = $ENV{TOGGLES_TOP} // "$FindBin::Bin/../..";
my ($control_version) = slurp_file("$top/pg_toggles.control") =~ /^default_version = '([^']+)'/m;
my $meta = JSON::PP->new->decode(slurp_file("$top/META.json"));
is($meta->{version}, $control_version, 'META.json version equals the control file');
is($meta->{provides}{pg_toggles}{version}, $control_version, 'META.json provides the same version');

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

my $default = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'pg_toggles'});
is($default, $control_version, 'the installed default version is the control file one');

my @versions = split /\n/, $node->safe_psql('postgres',
	q{SELECT version FROM pg_available_extension_versions WHERE name = 'pg_toggles' ORDER BY version});
ok(scalar(@versions) >= 1, 'versions available: ' . join(', ', @versions));

# schema_of DB: everything the extension defines, from the catalogs (pg_dump leaves
# extension members out): members, columns, defaults, constraints, indexes, triggers,
# function definitions, privileges and what pg_dump keeps.
sub schema_of
{
	my ($db) = @_;
	return $node->safe_psql($db, q{
		SELECT string_agg(d, E'\n' ORDER BY d) FROM (
			SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS d
			FROM pg_depend
			WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
			  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_toggles')
			UNION ALL
			SELECT format('column %s.%s %s notnull=%s default=%s acl=%s', c.relname, a.attname,
			              format_type(a.atttypid, a.atttypmod), a.attnotnull,
			              pg_get_expr(ad.adbin, ad.adrelid), a.attacl)
			FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
			LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
			WHERE c.relnamespace = 'toggles'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
			UNION ALL
			SELECT format('relation %s kind=%s persistence=%s acl=%s', relname, relkind, relpersistence, relacl)
			FROM pg_class WHERE relnamespace = 'toggles'::regnamespace
			UNION ALL
			SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
			FROM pg_constraint WHERE connamespace = 'toggles'::regnamespace
			UNION ALL
			SELECT 'index ' || pg_get_indexdef(i.indexrelid)
			FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
			WHERE c.relnamespace = 'toggles'::regnamespace
			UNION ALL
			SELECT 'trigger ' || pg_get_triggerdef(t.oid)
			FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			WHERE c.relnamespace = 'toggles'::regnamespace AND NOT t.tgisinternal
			UNION ALL
			SELECT format('function %s acl=%s', pg_get_functiondef(p.oid), p.proacl)
			FROM pg_proc p WHERE p.pronamespace = 'toggles'::regnamespace
			UNION ALL
			SELECT 'dumped ' || unnest(extconfig)::regclass::text
			FROM pg_extension WHERE extname = 'pg_toggles'
			UNION ALL
			SELECT format('role %s login=%s', rolname, rolcanlogin)
			FROM pg_roles WHERE rolname LIKE 'toggles\_%'
		) s});
}

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION pg_toggles');
my $fresh = schema_of('fresh');
like($fresh, qr/^relation features kind=r/m, 'fresh install has the toggles table');

my $state_q = q{SELECT name, is_active, description, version, created_at, updated_at, updated_by
	FROM toggles.features ORDER BY name};
my $log_q = q{SELECT id, version, operation, name, old, new FROM toggles.changes ORDER BY id};

for my $from (grep { $_ ne $default } @versions)
{
	my $db = "from_" . ($from =~ s/\W/_/gr);
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION pg_toggles VERSION '$from'");
	$node->safe_psql($db, q{
		INSERT INTO toggles.features (name, is_active, description)
		VALUES ('survivor', true, 'on before the update'), ('sleeper', false, 'off before it'),
		       ('flipper', false, '');
		UPDATE toggles.features SET is_active = true WHERE name = 'flipper';
	});

	# A session that writes toggles before and after the update, and a listener throughout.
	my $session = $node->background_psql($db);
	$session->query_safe(q{UPDATE toggles.features SET description = 'seen by this session' WHERE name = 'sleeper'});
	my $listener = ListenerHelper->start($node, $db);
	my $state = $node->safe_psql($db, $state_q);
	my $log = $node->safe_psql($db, $log_q);

	my $path = $node->safe_psql($db, qq{
		SELECT path FROM pg_extension_update_paths('pg_toggles')
		WHERE source = '$from' AND target = '$default'});
	ok($path ne '', "an update path leads from $from to $default: $path");
	$session->query_safe('ALTER EXTENSION pg_toggles UPDATE');
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'pg_toggles'}),
		$default, "$from updated to $default");
	is(schema_of($db), $fresh, "$from updated to $default equals a fresh install");

	# The update itself changes no toggle: same rows, versions and log.
	is($node->safe_psql($db, $state_q), $state, "$from: toggles survive the update unchanged");
	is($node->safe_psql($db, $log_q), $log, "$from: the log is kept, and the update adds nothing");

	my $has_rules = $node->safe_psql($db,
		q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'toggles.features'::regclass AND attname = 'rules'});
	if ($has_rules)
	{
		is($node->safe_psql($db, q{SELECT string_agg(name || '=' || rules::text || variants::text, ',' ORDER BY name) FROM toggles.features}),
			'flipper=[]{},sleeper=[]{},survivor=[]{}', "$from: no rules and no variants after the update");
		is($node->safe_psql($db, q{
				SELECT string_agg(name || '=' || toggles.enabled(name)::text || '/' || e.reason, ',' ORDER BY name)
				FROM toggles.features, toggles.evaluate(name, '{"key": "u1"}') e
				WHERE toggles.enabled(name, '{"key": "u1"}') = is_active}),
			'flipper=true/DEFAULT,sleeper=false/DISABLED,survivor=true/DEFAULT',
			"$from: toggles.enabled gives what is_active said before the update");
		is($node->safe_psql($db, q{SELECT rules FROM toggles.features WHERE name = 'survivor'}),
			'[]', "$from: rules default to []");
	}

	# The session that cached the log insert for the old row type goes on writing.
	$session->query_safe(q{UPDATE toggles.features SET is_active = false WHERE name = 'survivor'});
	$session->query_safe(q{INSERT INTO toggles.features (name, is_active) VALUES ('newcomer', true)});
	$session->quit;
	my $last = $node->safe_psql($db, q{SELECT version FROM toggles.changes ORDER BY id DESC LIMIT 1});
	my @payloads = map { ListenerHelper->decode($_) } $listener->finish;
	my @seen = map { join(',', map { "$_->{name}=" . ($_->{active} ? 'on' : 'off') } @{ $_->{toggles} }) } @payloads;
	is_deeply(\@seen, [ 'survivor=off', 'newcomer=on' ],
		"$from: the change stream goes on across the update");
	is($payloads[-1]{version}, $last, "$from: versions go on rising in the log and the stream");
	if ($has_rules)
	{
		is($node->safe_psql($db, q{
				SELECT (new -> 'rules') || (new -> 'variants') FROM toggles.changes
				WHERE name = 'survivor' ORDER BY id DESC LIMIT 1}),
			'[{}]', "$from: log rows written after the update carry rules and variants");
		is($node->safe_psql($db, q{SELECT toggles.enabled('survivor')::text || toggles.enabled('newcomer')::text}),
			'falsetrue', "$from: toggles.enabled follows flips after the update");
	}
}

$node->stop;
done_testing();
