-- The objects CREATE EXTENSION makes, and that it refuses to relocate.
CREATE EXTENSION pg_toggles;

\dx pg_toggles
\d toggles.features
\d toggles.changes
\d toggles.connections

SELECT c.relname, c.relkind, c.relpersistence
FROM pg_class c
WHERE c.relnamespace = 'toggles'::regnamespace AND c.relkind IN ('r', 'S')
ORDER BY c.relname;

SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'toggles\_%' ORDER BY rolname;

SELECT p.oid::regprocedure AS function, p.prosecdef AS security_definer, p.proconfig
FROM pg_proc p
WHERE p.pronamespace = 'toggles'::regnamespace
ORDER BY p.oid::regprocedure::text;

-- The epoch: system identifier, timeline, and the id drawn at CREATE EXTENSION.
SELECT toggles.epoch() ~ '^[0-9]+-[0-9]+-[0-9a-f]{32}$' AS epoch_format;
SELECT split_part(toggles.epoch(), '-', 1) = (SELECT system_identifier::text FROM pg_control_system())
    AS epoch_has_system_identifier;

-- Not relocatable: the schema name is part of the contract.
CREATE SCHEMA elsewhere;
ALTER EXTENSION pg_toggles SET SCHEMA elsewhere;
DROP SCHEMA elsewhere;

-- Tables pg_dump keeps with the extension.
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension WHERE extname = 'pg_toggles' ORDER BY 1;

-- The role creation is idempotent: a second CREATE EXTENSION (after DROP) finds them.
DROP EXTENSION pg_toggles;
CREATE EXTENSION pg_toggles;
SELECT count(*) AS toggles_roles FROM pg_roles WHERE rolname IN ('toggles_admin', 'toggles_pushd');
