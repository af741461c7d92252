-- Targeting (docs/targeting.md): rules and variants, validated when written;
-- toggles.enabled, toggles.evaluate and toggles.evaluate_definition.  The messages come
-- from the shared validator (common/targeting.c), the same one toggles-pushd runs.

SET timezone = 'UTC';

-- A toggle without rules is what it was before targeting: on or off for everybody.
INSERT INTO toggles.features (name, is_active) VALUES ('tg-plain', true);
SELECT rules, variants FROM toggles.features WHERE name = 'tg-plain';
SELECT toggles.enabled('tg-plain');
SELECT * FROM toggles.evaluate('tg-plain');
-- Default and named arguments; NULL stands for the default.
SELECT toggles.enabled('tg-plain', '{"key": "user-1"}');
SELECT * FROM toggles.evaluate(name => 'tg-plain', at => '2026-01-01 00:00Z');
SELECT toggles.enabled('tg-plain', NULL, NULL) AS null_context_and_instant;
-- An unknown toggle (or none) is off, with reason ERROR.
SELECT toggles.enabled('tg-unknown'), toggles.enabled(NULL);
SELECT * FROM toggles.evaluate('tg-unknown');

-- A session sees its own changes at once, and forgets rolled-back ones.
BEGIN;
SELECT toggles.enabled('tg-plain') AS before_update;
UPDATE toggles.features SET is_active = false WHERE name = 'tg-plain';
SELECT toggles.enabled('tg-plain') AS after_update;
SAVEPOINT s;
UPDATE toggles.features SET is_active = true WHERE name = 'tg-plain';
INSERT INTO toggles.features (name, is_active) VALUES ('tg-fleeting', true);
SELECT toggles.enabled('tg-plain') AS in_savepoint, toggles.enabled('tg-fleeting') AS fleeting;
ROLLBACK TO SAVEPOINT s;
SELECT toggles.enabled('tg-plain') AS rolled_back, toggles.enabled('tg-fleeting') AS fleeting;
ROLLBACK;
SELECT toggles.enabled('tg-plain') AS after_rollback;
DO $$
BEGIN
    UPDATE toggles.features SET is_active = false WHERE name = 'tg-plain';
    RAISE NOTICE 'off: %', toggles.enabled('tg-plain');
    BEGIN
        UPDATE toggles.features SET is_active = true WHERE name = 'tg-plain';
        RAISE NOTICE 'on in the block: %', toggles.enabled('tg-plain');
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN
        RAISE NOTICE 'off after it: %', toggles.enabled('tg-plain');
    END;
END
$$;
UPDATE toggles.features SET is_active = true WHERE name = 'tg-plain';

-- Malformed rules and variants are refused, each with the path of what is wrong.  One
-- in full, with its hint; the rest terse.
INSERT INTO toggles.features (name, is_active, rules)
VALUES ('tg-bad', true, '[{"when": [{"attribute": "country", "op": "eq", "value": "DE"}], "serve": true}]');
\set VERBOSITY terse
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '{"serve": true}');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '"on"');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[42]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": []}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"serve": "yes"}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"serve": true, "colour": "red"}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"name": 7, "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', jsonb_build_array(jsonb_build_object('name', repeat('n', 101), 'serve', true)));
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": {"attribute": "country"}, "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"attribute": "country", "value": "DE"}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"attribute": "country", "op": "in", "value": "DE"}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"attribute": "age", "op": "lt", "value": "30"}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"attribute": "app", "op": "semver_gte", "value": "2.x"}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"attribute": "signup", "op": "before", "value": "yesterday"}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"window": {"from": "2026-12-24T18:00:00.5Z"}}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"window": {"start": "09:00", "end": "09:00"}}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"window": {"start": "25:00", "end": "26:00"}}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"window": {"days": ["funday"], "start": "09:00", "end": "17:00"}}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"serve": {"variant": "blue"}}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"serve": {"percentage": 101}}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"serve": {"percentage": 12.345}}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"serve": {"percentage": 10, "by": 7}}]');
INSERT INTO toggles.features (name, rules, variants) VALUES ('tg-bad', '[{"serve": {"split": []}}]', '{"a": 1}');
INSERT INTO toggles.features (name, rules, variants) VALUES ('tg-bad', '[{"serve": {"split": [{"variant": "a", "weight": 0}]}}]', '{"a": 1}');
INSERT INTO toggles.features (name, rules, variants) VALUES ('tg-bad', '[{"serve": {"split": [{"variant": "a", "weight": 1}, {"variant": "b", "weight": 1}]}}]', '{"a": 1}');
INSERT INTO toggles.features (name, variants) VALUES ('tg-bad', '["a", "b"]');
INSERT INTO toggles.features (name, variants) VALUES ('tg-bad', '{"1st": true}');
INSERT INTO toggles.features (name, variants) VALUES ('tg-bad', '{"big one": true}');
INSERT INTO toggles.features (name, rules)
SELECT 'tg-bad', jsonb_agg('{"serve": true}'::jsonb) FROM generate_series(1, 101);
-- Time zones must be installed, and named exactly as in /usr/share/zoneinfo (as
-- toggles-pushd reads them): no other case, no POSIX zone specification.
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"window": {"start": "09:00", "end": "17:00", "tz": "Mars/Olympus_Mons"}}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"window": {"start": "09:00", "end": "17:00", "tz": "europe/berlin"}}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"window": {"start": "09:00", "end": "17:00", "tz": "XYZ+3"}}], "serve": true}]');
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', '[{"when": [{"window": {"start": "09:00", "end": "17:00", "tz": "../../../etc/passwd"}}], "serve": true}]');
-- NULL is left to the NOT NULL constraints.
INSERT INTO toggles.features (name, rules) VALUES ('tg-bad', NULL);
INSERT INTO toggles.features (name, variants) VALUES ('tg-bad', NULL);
-- An UPDATE is checked the same way.
UPDATE toggles.features SET rules = '[{"serve": {"variant": "blue"}}]' WHERE name = 'tg-plain';
\set VERBOSITY default
SELECT count(*) AS refused_rows_stored FROM toggles.features WHERE name = 'tg-bad';

-- Zones are checked on the exact name: these are installed.
INSERT INTO toggles.features (name, is_active, rules) VALUES ('tg-zones', true,
  '[{"when": [{"window": {"start": "09:00", "end": "17:00", "tz": "Europe/Berlin"}},
              {"window": {"start": "09:00", "end": "17:00", "tz": "UTC"}},
              {"window": {"start": "09:00", "end": "17:00", "tz": "America/New_York"}}],
     "serve": true}]');
SELECT * FROM toggles.evaluate('tg-zones', at => '2026-06-01 14:00Z');
SELECT * FROM toggles.evaluate('tg-zones', at => '2026-06-01 12:00Z');

-- Staff first, then 10 % of everyone else (docs/targeting.md's first example).
INSERT INTO toggles.features (name, is_active, rules) VALUES ('tg-checkout', true,
  '[{"name": "staff", "when": [{"attribute": "groups", "op": "in", "value": ["staff"]}], "serve": true},
    {"name": "rollout", "serve": {"percentage": 10}}]');
SELECT * FROM toggles.evaluate('tg-checkout', '{"key": "user-1", "groups": ["beta", "staff"]}');
SELECT * FROM toggles.evaluate('tg-checkout', '{"groups": ["beta"]}');
SELECT count(*) FILTER (WHERE toggles.enabled('tg-checkout', jsonb_build_object('key', 'user-' || i)))
       BETWEEN 900 AND 1100 AS about_ten_percent
FROM generate_series(1, 10000) i;
SELECT reason, count(*) FROM generate_series(1, 1000) i,
    LATERAL toggles.evaluate('tg-checkout', jsonb_build_object('key', 'user-' || i)) e
GROUP BY reason ORDER BY reason;

-- Variants: a value and a variant name instead of true.
INSERT INTO toggles.features (name, is_active, rules, variants) VALUES ('tg-banner', true,
  '[{"when": [{"attribute": "country", "op": "in", "value": ["DE", "AT"]}], "serve": {"variant": "big"}},
    {"serve": {"variant": "blue"}}]',
  '{"blue": "#00f", "big": {"size": 3}}');
SELECT * FROM toggles.evaluate('tg-banner', '{"key": "u", "country": "AT"}');
SELECT * FROM toggles.evaluate('tg-banner', '{"key": "u", "country": "FR"}');
SELECT toggles.enabled('tg-banner', '{"country": "FR"}');
-- A serve false rule is off with a reason; no rule matching is off, DEFAULT.
UPDATE toggles.features
SET rules = '[{"when": [{"attribute": "plan", "op": "equals", "value": "free"}], "serve": false},
              {"when": [{"attribute": "plan", "op": "equals", "value": "pro"}], "serve": {"variant": "big"}}]'
WHERE name = 'tg-banner';
SELECT * FROM toggles.evaluate('tg-banner', '{"plan": "free"}');
SELECT * FROM toggles.evaluate('tg-banner', '{"plan": "pro"}');
SELECT * FROM toggles.evaluate('tg-banner', '{"plan": "team"}');

-- The kill switch: off for everybody whatever the rules say, and back.
UPDATE toggles.features SET is_active = false WHERE name = 'tg-banner';
SELECT * FROM toggles.evaluate('tg-banner', '{"plan": "pro"}');
SELECT toggles.enabled('tg-banner', '{"plan": "pro"}');
UPDATE toggles.features SET is_active = true WHERE name = 'tg-banner';
SELECT * FROM toggles.evaluate('tg-banner', '{"plan": "pro"}');

-- Time windows, at chosen instants: Christmas Eve evening in Berlin.
INSERT INTO toggles.features (name, is_active, rules) VALUES ('tg-xmas', true,
  '[{"when": [{"window": {"from": "2026-12-24T18:00:00+01:00", "until": "2026-12-27T00:00:00+01:00"}}],
     "serve": true}]');
SELECT at, e.* FROM unnest(ARRAY['2026-12-24 16:59:59Z', '2026-12-24 17:00:00Z',
                                 '2026-12-26 22:59:59Z', '2026-12-26 23:00:00Z']::timestamptz[]) at,
    LATERAL toggles.evaluate('tg-xmas', '{}', at) e;
SELECT * FROM toggles.evaluate('tg-xmas', at => 'infinity');

-- The context must be a JSON object of at most 64 KiB.
SELECT toggles.enabled('tg-checkout', '[1, 2]');
SELECT toggles.enabled('tg-checkout', '"user-1"');
SELECT toggles.enabled('tg-checkout', jsonb_build_object('key', repeat('k', 70000)));

-- The rules and variants travel in the change log's row images.
SELECT operation, new -> 'rules' AS rules, new -> 'variants' AS variants
FROM toggles.changes WHERE name = 'tg-banner' ORDER BY id DESC LIMIT 1;

-- Writing the same rules, however spelled, is no change: no version, no log entry.
SELECT version AS banner_version FROM toggles.features WHERE name = 'tg-banner' \gset
SELECT count(*) AS log_before FROM toggles.changes \gset
UPDATE toggles.features SET rules = rules, variants = variants WHERE name = 'tg-banner';
UPDATE toggles.features SET variants = '{ "big": {"size": 3},  "blue": "#00f" }' WHERE name = 'tg-banner';
SELECT version = :banner_version AS same_version FROM toggles.features WHERE name = 'tg-banner';
SELECT count(*) - :log_before AS new_log_entries FROM toggles.changes;
-- A change of the variants alone is one.
UPDATE toggles.features SET variants = variants || '{"red": "#f00"}' WHERE name = 'tg-banner';
SELECT count(*) - :log_before AS new_log_entries FROM toggles.changes;

-- Trying rules without storing them.
SELECT * FROM toggles.evaluate_definition(
    '{"name": "t", "is_active": true, "rules": [{"serve": {"percentage": 10}}]}', '{"key": "user-42"}');
SELECT * FROM toggles.evaluate_definition('{"name": "t", "is_active": true}');
SELECT * FROM toggles.evaluate_definition('{"name": "t"}');
-- A row of toggles.features is a definition too.
SELECT e.* FROM toggles.features f,
    LATERAL toggles.evaluate_definition(to_jsonb(f), '{"plan": "pro"}') e
WHERE f.name = 'tg-banner';
-- No zone checks there: an unknown zone evaluates to ERROR, as it would after tzdata lost it.
SELECT * FROM toggles.evaluate_definition(
    '{"name": "t", "is_active": true,
      "rules": [{"when": [{"window": {"start": "09:00", "end": "17:00", "tz": "Mars/Olympus_Mons"}}], "serve": true}]}');
-- Anything else wrong is refused.
SELECT * FROM toggles.evaluate_definition('{"name": "t", "is_active": true, "rules": [{"serve": {"percentage": 101}}]}');
SELECT * FROM toggles.evaluate_definition('{"is_active": true}');
SELECT * FROM toggles.evaluate_definition('{"name": "t", "is_active": "yes"}');
SELECT * FROM toggles.evaluate_definition('[]');
SELECT * FROM toggles.evaluate_definition(NULL);

-- Restores: a superuser's COPY with versions (pg_restore) checks the rules' syntax only,
-- so a dump naming a zone this machine lacks still restores; evaluation then says ERROR.
COPY toggles.features (name, is_active, description, version, created_at, updated_at, updated_by, rules, variants) FROM stdin;
tg-restored	t	from elsewhere	900000	2026-01-01 00:00:00+00	2026-01-01 00:00:00+00	restorer	[{"when": [{"window": {"start": "09:00", "end": "17:00", "tz": "Mars/Olympus_Mons"}}], "serve": true}]	{}
\.
SELECT name, version, updated_by FROM toggles.features WHERE name = 'tg-restored';
SELECT * FROM toggles.evaluate('tg-restored', at => '2026-06-01 12:00Z');
COPY toggles.features (name, is_active, description, version, created_at, updated_at, updated_by, rules, variants) FROM stdin;
tg-restored-bad	t	from elsewhere	900001	2026-01-01 00:00:00+00	2026-01-01 00:00:00+00	restorer	[{"serve": {"percentage": 101}}]	{}
\.
-- The kill switch works on such a toggle: unchanged rules are not checked again.
UPDATE toggles.features SET is_active = false WHERE name = 'tg-restored';
SELECT * FROM toggles.evaluate('tg-restored');
-- Changed rules are, zones included.
UPDATE toggles.features SET rules = rules || '[{"serve": false}]' WHERE name = 'tg-restored';

-- Evaluation needs no privilege on toggles.features: it reveals only the result.
CREATE ROLE regress_tg_reader;
REVOKE SELECT ON toggles.features FROM PUBLIC;
SET ROLE regress_tg_reader;
SELECT count(*) FROM toggles.features;
SELECT toggles.enabled('tg-plain'), (toggles.evaluate('tg-banner', '{"plan": "pro"}')).variant;
SELECT (toggles.evaluate_definition('{"name": "t", "is_active": true}')).active;
RESET ROLE;
GRANT SELECT ON toggles.features TO PUBLIC;
DROP ROLE regress_tg_reader;

-- Their signatures and volatility.
SELECT p.oid::regprocedure AS function, p.provolatile, p.proparallel, p.proisstrict,
       pg_get_function_result(p.oid) AS result, has_function_privilege('public', p.oid, 'EXECUTE') AS public
FROM pg_proc p
WHERE p.pronamespace = 'toggles'::regnamespace AND p.proname IN ('enabled', 'evaluate', 'evaluate_definition')
ORDER BY 1;

DELETE FROM toggles.features WHERE name LIKE 'tg-%';
RESET timezone;
