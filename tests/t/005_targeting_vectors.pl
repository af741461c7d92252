# The rule language in SQL against the shared vectors (tests/vectors/targeting.json), the
# same cases toggles-pushd's evaluator is tested with: every evaluation case through
# toggles.evaluate_definition and, where its time zones are installed, stored in
# toggles.features through toggles.evaluate and toggles.enabled; every invalid case is
# refused by INSERT with the expected message.  Then the rollout property over 100,000
# keys, and wall-clock windows across both DST nights of 2026 in Europe/Berlin against
# PostgreSQL's own time-zone conversion.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use JSON::PP;
use Test::More;
use FindBin;

# The source tree: tests/ is the working directory under scripts/test.sh, the top one
# under make installcheck, so it is found from where this file is.
my $top = $ENV{TOGGLES_TOP} // "$FindBin::Bin/../..";
# UTF-8 in and out: psql must get the vectors' bytes, not Perl's inner encoding of them.
my $json = JSON::PP->new->utf8->canonical->allow_nonref;
my $cases = $json->decode(slurp_file("$top/tests/vectors/targeting.json"));
ok(ref $cases eq 'ARRAY' && @$cases > 0, scalar(@$cases) . ' vectors read');

my $node = PostgreSQL::Test::Cluster->new('targeting');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_toggles');

my $session = $node->background_psql('postgres', on_error_stop => 0);

# run(SQL): (stdout, stderr) of one statement in the session.
sub run
{
	my ($sql) = @_;
	$session->{stderr} = '';
	my $out = $session->query($sql);
	my $err = $session->{stderr};
	$session->{stderr} = '';
	return ($out, $err);
}

# literal(VALUE): a JSON value as an SQL jsonb literal.
sub literal
{
	my $text = $json->encode($_[0]);
	die "dollar quote inside a vector" if $text =~ /\$tgv\$/;
	return "\$tgv\$$text\$tgv\$::jsonb";
}

# zones_known(TOGGLE): whether every time zone the toggle names is installed, the way
# toggles-pushd finds zones: a file /usr/share/zoneinfo/<name>, named exactly.
sub zones_known
{
	my ($v) = @_;
	if (ref $v eq 'HASH')
	{
		return 0 if exists $v->{tz}
		  && (ref $v->{tz} || $v->{tz} !~ m{^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$}
			|| !-f "/usr/share/zoneinfo/$v->{tz}");
		return !grep { !zones_known($_) } values %$v;
	}
	return !grep { !zones_known($_) } @$v if ref $v eq 'ARRAY';
	return 1;
}

# result_ok(NAME, OUT, ERR, EXPECT): the JSON row a query printed against the expectation.
sub result_ok
{
	my ($name, $out, $err, $expect) = @_;
	if ($err ne '' || $out eq '')
	{
		fail($name);
		diag("error: $err");
		return;
	}
	my $got = $json->decode($out);
	my $want = {
		active => $expect->{active} ? 'true' : 'false',
		variant => $expect->{variant},
		reason => $expect->{reason},
		value_ok => 'true',
	};
	my $have = {
		active => $got->{active} ? 'true' : 'false',
		variant => $got->{variant},
		reason => $got->{reason},
		value_ok => $got->{value_ok} ? 'true' : 'false',
	};
	is_deeply($have, $want, $name)
	  or diag('got value ' . $json->encode($got->{value}) . ', expected ' . $json->encode($expect->{value}));
}

my ($evaluated, $stored, $refused) = (0, 0, 0);
for my $case (@$cases)
{
	my $t = $case->{toggle};
	utf8::encode($case->{name});
	my $def = literal($t);
	my $ctx = literal($case->{context} // {});
	my $at = "'" . ($case->{at} // '2026-01-01T00:00:00Z') . "'::timestamptz";
	my $known = zones_known($t);
	my $insert = qq{INSERT INTO toggles.features (name, is_active, rules, variants)
		SELECT d ->> 'name', (d ->> 'is_active')::boolean, coalesce(d -> 'rules', '[]'),
		       coalesce(d -> 'variants', '{}')
		FROM (SELECT $def AS d) s};

	if (exists $case->{error})
	{
		my ($out, $err) = run("BEGIN; $insert; ROLLBACK;");
		like($err, qr/invalid rules for toggle "\Q$t->{name}\E": .*\Q$case->{error}\E/,
			"$case->{name}: INSERT refused");
		if ($known)
		{
			($out, $err) = run("SELECT * FROM toggles.evaluate_definition($def)");
			like($err, qr/\Q$case->{error}\E/, "$case->{name}: evaluate_definition refuses it");
		}
		$refused++;
		next;
	}

	my $expect_value = literal(exists $case->{expect}{value} ? $case->{expect}{value} : JSON::PP::false);
	my ($out, $err) = run(qq{
		SELECT json_build_object('active', e.active, 'value', e.value, 'variant', e.variant,
		                         'reason', e.reason, 'value_ok', e.value = $expect_value)
		FROM toggles.evaluate_definition($def, $ctx, $at) e});
	result_ok("$case->{name}: evaluate_definition", $out, $err, $case->{expect});
	$evaluated++;
	next unless $known;

	# Stored, in a transaction rolled back: vectors share toggle names.
	($out, $err) = run("BEGIN; $insert;");
	if ($err ne '')
	{
		fail("$case->{name}: INSERT");
		diag($err);
		run('ROLLBACK');
		next;
	}
	my $name = "\$tgv\$$t->{name}\$tgv\$";
	($out, $err) = run(qq{
		SELECT json_build_object('active', e.active, 'value', e.value, 'variant', e.variant,
		                         'reason', e.reason, 'value_ok', e.value = $expect_value,
		                         'enabled', toggles.enabled($name, $ctx, $at))
		FROM toggles.evaluate($name, $ctx, $at) e});
	result_ok("$case->{name}: stored, toggles.evaluate", $out, $err, $case->{expect});
	my $got = $out ne '' && $err eq '' ? $json->decode($out) : {};
	is($got->{enabled} ? 'true' : 'false', $case->{expect}{active} ? 'true' : 'false',
		"$case->{name}: stored, toggles.enabled");
	run('ROLLBACK');
	$stored++;
}
note("$evaluated evaluated, $stored of them also stored, $refused refused");
cmp_ok($evaluated, '>', 0, 'evaluation cases ran');
cmp_ok($refused, '>', 0, 'invalid cases ran');
$session->quit;

# Rollout: 10 % stored, 20 % as a definition of the same toggle name, over 100,000 keys.
$node->safe_psql('postgres', q{
	INSERT INTO toggles.features (name, is_active, rules)
	VALUES ('rollout', true, '[{"serve": {"percentage": 10}}]')});
my ($on10, $on20, $lost) = split /\|/, $node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE at10), count(*) FILTER (WHERE at20),
	       count(*) FILTER (WHERE at10 AND NOT at20)
	FROM (SELECT toggles.enabled('rollout', c) AS at10,
	             (toggles.evaluate_definition(
	                 '{"name": "rollout", "is_active": true, "rules": [{"serve": {"percentage": 20}}]}',
	                 c)).active AS at20
	      FROM generate_series(1, 100000) i,
	           LATERAL (SELECT jsonb_build_object('key', 'user-' || i) AS c) k) s});
cmp_ok(abs($on10 / 1000 - 10), '<', 0.5, "10 %: $on10 of 100,000 keys are on");
cmp_ok(abs($on20 / 1000 - 20), '<', 0.5, "20 %: $on20 of 100,000 keys are on");
is($lost, 0, 'every key on at 10 % is on at 20 %');

# Another session's flip: seen by the next statement (READ COMMITTED), not within a
# REPEATABLE READ transaction; toggles.enabled reads through the statement's snapshot.
{
	my $reader = $node->background_psql('postgres');
	my $flip = sub { $node->safe_psql('postgres', "UPDATE toggles.features SET is_active = $_[0] WHERE name = 'rollout'"); };
	my $read = sub { $reader->query_safe(q{SELECT toggles.enabled('rollout', '{"key": "user-3"}')::text || '/' || toggles.enabled('rollout')::text}) };
	my $first = $read->();
	$flip->('false');
	is($read->(), 'false/false', "READ COMMITTED: the next statement sees another session's flip (was $first)");
	$reader->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
	is($read->(), 'false/false', 'REPEATABLE READ: before the flip');
	$flip->('true');
	is($read->(), 'false/false', "REPEATABLE READ: another session's flip is not seen within the transaction");
	$reader->query_safe('COMMIT');
	is($read->(), $first, 'after COMMIT it is');
	$reader->quit;
}

# Wall-clock windows across the DST nights of 2026 in Europe/Berlin (clocks go forward at
# 2026-03-29 01:00 UTC and back at 2026-10-25 01:00 UTC), every 30 seconds, against
# PostgreSQL's own conversion: a window holds exactly when the local time of day is in
# [start, end).  02:00-03:00 is thus closed all through the spring night and open during
# both passes of the autumn one; 02:30-04:00 opens when the clocks jump.
my @windows = ([ '02:00', '03:00' ], [ '02:30', '04:00' ], [ '01:59:30', '03:00:30' ],
	[ '03:00', '03:30' ], [ '22:00', '02:30' ]);
for my $night ('2026-03-29', '2026-10-25')
{
	for my $w (@windows)
	{
		my ($start, $end) = @$w;
		my $rules = qq{[{"when": [{"window": {"start": "$start", "end": "$end", "tz": "Europe/Berlin"}}], "serve": true}]};
		my $def = qq{{"name": "dst", "is_active": true, "rules": $rules}};
		my $cmp = $start lt $end
		  ? "l >= '$start' AND l < '$end'"
		  : "(l >= '$start' OR l < '$end')";
		my ($disagree, $open) = split /\|/, $node->safe_psql('postgres', qq{
			SELECT count(*) FILTER (WHERE e.active <> ($cmp)), count(*) FILTER (WHERE e.active)
			FROM generate_series(timestamptz '$night 00:00:00Z', timestamptz '$night 02:30:00Z',
			                     interval '30 seconds') t,
			     LATERAL (SELECT (t AT TIME ZONE 'Europe/Berlin')::time AS l) lt,
			     LATERAL toggles.evaluate_definition('$def', '{}', t) e});
		is($disagree, 0, "$night, window $start-$end Europe/Berlin agrees with AT TIME ZONE ($open of 301 instants open)");
	}
}
my $spring = q{{"name": "dst", "is_active": true, "rules": [{"when": [{"window": {"start": "02:30", "end": "04:00", "tz": "Europe/Berlin"}}], "serve": true}]}};
is($node->safe_psql('postgres', qq{
		SELECT string_agg(e.active::text, ',' ORDER BY t)
		FROM unnest(ARRAY[timestamptz '2026-03-29 00:59:59Z', '2026-03-29 01:00:00Z']) t,
		     LATERAL toggles.evaluate_definition('$spring', '{}', t) e}),
	'false,true', '02:30-04:00 Europe/Berlin opens at 01:00:00 UTC on 2026-03-29, when the clocks jump');

$node->stop;
done_testing();
