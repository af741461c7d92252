-- Defaults, and the columns the extension owns whatever the user writes.
BEGIN;
INSERT INTO toggles.features (name) VALUES ('plain');
SELECT name, is_active, description, version, updated_by = session_user AS by_session_user,
       created_at = now() AS created_now, updated_at = now() AS updated_now
FROM toggles.features;
COMMIT;

-- version, created_at, updated_at and updated_by given by the user are overwritten.
BEGIN;
INSERT INTO toggles.features (name, is_active, version, created_at, updated_at, updated_by)
VALUES ('forged', true, 424242, '2000-01-01', '2000-01-01', 'mallory');
SELECT name, version, updated_by = session_user AS by_session_user,
       created_at = now() AS created_now, updated_at = now() AS updated_now
FROM toggles.features WHERE name = 'forged';
COMMIT;
UPDATE toggles.features SET version = 1, updated_by = 'mallory' WHERE name = 'forged';
SELECT name, version, updated_by = session_user AS by_session_user FROM toggles.features
WHERE name = 'forged';

-- One version per transaction, shared by every row it writes; created_at survives updates.
BEGIN;
INSERT INTO toggles.features (name) VALUES ('one'), ('two');
UPDATE toggles.features SET is_active = true WHERE name = 'plain';
SELECT name, version FROM toggles.features ORDER BY name;
COMMIT;
SELECT count(DISTINCT created_at) AS distinct_created FROM toggles.features WHERE name IN ('plain', 'one');

-- An explicit actor (e.g. set by an admin tool acting for a person).
BEGIN;
SET LOCAL pg_toggles.actor = 'alice@example.com';
UPDATE toggles.features SET description = 'Set by Alice' WHERE name = 'one';
COMMIT;
SELECT name, updated_by FROM toggles.features WHERE name = 'one';
SELECT version, operation, name,
       CASE WHEN changed_by = session_user THEN '(session_user)' ELSE changed_by END AS changed_by,
       db_user = session_user AS db_user_is_session
FROM toggles.changes WHERE name = 'one' ORDER BY id;

-- A SECURITY DEFINER helper writing for the caller still records the caller.
CREATE ROLE regress_helper_owner SUPERUSER NOLOGIN;
CREATE ROLE regress_caller LOGIN;
CREATE FUNCTION public.flip_as_owner(toggle text) RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog
    AS $$ UPDATE toggles.features SET is_active = NOT is_active WHERE name = toggle $$;
ALTER FUNCTION public.flip_as_owner(text) OWNER TO regress_helper_owner;
GRANT EXECUTE ON FUNCTION public.flip_as_owner(text) TO regress_caller;
SET SESSION AUTHORIZATION regress_caller;
SELECT public.flip_as_owner('two');
RESET SESSION AUTHORIZATION;
SELECT name, is_active, updated_by FROM toggles.features WHERE name = 'two';
DROP FUNCTION public.flip_as_owner(text);
DROP ROLE regress_helper_owner;

-- The change log: one entry per row change, old and new row images.
SELECT version, operation, name, old ->> 'is_active' AS old_active, new ->> 'is_active' AS new_active
FROM toggles.changes ORDER BY id;

-- COPY is an insert like any other, unless a superuser supplies versions: that is how
-- pg_dump writes the table, and it is taken as a restore (rows verbatim, not logged).
SELECT count(*) AS log_before FROM toggles.changes \gset
COPY toggles.features (name, is_active) FROM stdin;
copied-a	true
copied-b	false
\.
SELECT name, is_active, version > 0 AS stamped FROM toggles.features WHERE name LIKE 'copied-%' ORDER BY name;
SELECT count(*) - :log_before AS new_log_entries FROM toggles.changes;
COPY toggles.features (name, is_active, description, version, created_at, updated_at, updated_by) FROM stdin;
restored-a	true	from a dump	7	2020-01-01 00:00:00+00	2020-01-02 00:00:00+00	someone
\.
SELECT name, version, updated_at, updated_by FROM toggles.features WHERE name = 'restored-a';
SELECT count(*) - :log_before AS new_log_entries FROM toggles.changes;
-- A non-superuser's COPY with versions is stamped like an insert.
GRANT toggles_admin TO regress_caller;
SET SESSION AUTHORIZATION regress_caller;
COPY toggles.features (name, version, updated_by) FROM stdin;
restored-b	7	someone
\.
RESET SESSION AUTHORIZATION;
SELECT name, version > 7 AS restamped, updated_by FROM toggles.features WHERE name = 'restored-b';
SELECT count(*) - :log_before AS new_log_entries FROM toggles.changes;
REVOKE toggles_admin FROM regress_caller;
DELETE FROM toggles.features WHERE name LIKE 'copied-%' OR name LIKE 'restored-%';
