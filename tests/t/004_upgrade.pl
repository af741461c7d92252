# The version chain: every released version upgrades, step by step, to the default one,
# and the result equals a fresh install of it.  META.json's version is the control file's.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use JSON::PP;
use Test::More;

my $top = $ENV{TOGGLES_TOP} // '..';
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

for my $from (grep { $_ ne $default } @versions)
{
	my $db = "from_" . ($from =~ s/\W/_/gr);
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION pg_toggles VERSION '$from'");
	$node->safe_psql($db, q{INSERT INTO toggles.features (name, is_active) VALUES ('survivor', true)});
	my $path = $node->safe_psql($db, qq{
		SELECT path FROM pg_extension_update_paths('pg_toggles')
		WHERE source = '$from' AND target = '$default'});
	ok($path ne '', "an update path leads from $from to $default: $path");
	$node->safe_psql($db, 'ALTER EXTENSION pg_toggles UPDATE');
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'pg_toggles'}),
		$default, "$from updated to $default");
	is(schema_of($db), $fresh, "$from updated to $default equals a fresh install");
	is($node->safe_psql($db, q{SELECT is_active FROM toggles.features WHERE name = 'survivor'}),
		't', "$from: toggles survive the update");
}

$node->stop;
done_testing();
