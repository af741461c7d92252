-- PUBLIC can write nothing and cannot read row images or connections; the two group
-- roles can do what they are for.
CREATE ROLE regress_nobody LOGIN;
CREATE ROLE regress_admin LOGIN IN ROLE toggles_admin;
CREATE ROLE regress_pushd LOGIN IN ROLE toggles_pushd;

SET SESSION AUTHORIZATION regress_nobody;
SELECT count(*) > 0 AS can_read_toggles FROM toggles.features;
SELECT count(*) > 0 AS can_read_log_outline FROM (SELECT id, version, operation, name, changed_by, changed_at FROM toggles.changes) c;
SELECT old FROM toggles.changes LIMIT 1;
SELECT new FROM toggles.changes LIMIT 1;
SELECT db_user FROM toggles.changes LIMIT 1;
SELECT * FROM toggles.connections;
INSERT INTO toggles.features (name) VALUES ('sneaky');
UPDATE toggles.features SET is_active = true;
DELETE FROM toggles.features;
SELECT toggles.set('sneaky', true);
INSERT INTO toggles.changes (version, operation, name, changed_by, db_user) VALUES (1, 'insert', 'x', 'x', 'x');
DELETE FROM toggles.changes;
INSERT INTO toggles.connections (node, conn_id) VALUES ('n', 1);
SELECT toggles.register_connections('n', '[{"id":1}]');
SELECT toggles.unregister_node('n');
SELECT toggles.heartbeat('n');
SELECT toggles.reap_connections();
SELECT toggles.prune_changes();
SELECT nextval('toggles.version_seq');
SELECT (toggles.snapshot() ->> 'version') IS NOT NULL AS can_snapshot;
SET pg_toggles.log_retention = '1s';
RESET SESSION AUTHORIZATION;

-- toggles_admin flips toggles and reads the whole log; the log records who.
SET SESSION AUTHORIZATION regress_admin;
INSERT INTO toggles.features (name, description) VALUES ('admin-made', 'by an admin');
UPDATE toggles.features SET is_active = true WHERE name = 'admin-made';
SELECT name, is_active FROM toggles.set('admin-made', false);
SELECT operation, name, changed_by, db_user, new ->> 'is_active' AS new_active
FROM toggles.changes WHERE name = 'admin-made' ORDER BY id;
SELECT count(*) >= 0 AS can_read_connections FROM toggles.connections;
INSERT INTO toggles.changes (version, operation, name, changed_by, db_user) VALUES (1, 'insert', 'x', 'x', 'x');
UPDATE toggles.changes SET changed_by = 'someone else';
INSERT INTO toggles.connections (node, conn_id) VALUES ('n', 1);
SELECT toggles.register_connections('n', '[{"id":1}]');
RESET SESSION AUTHORIZATION;

-- toggles_pushd reads toggles and log, and writes connections only through its functions.
SET SESSION AUTHORIZATION regress_pushd;
SELECT count(*) > 0 AS can_read_log_rows FROM toggles.changes WHERE new IS NOT NULL;
SELECT toggles.register_connections('node-a', '[{"id":1,"peer":"127.0.0.1"}]');
INSERT INTO toggles.connections (node, conn_id) VALUES ('node-a', 2);
UPDATE toggles.features SET is_active = true;
SELECT toggles.unregister_node('node-a');
RESET SESSION AUTHORIZATION;

-- Every SECURITY DEFINER function pins its search_path.
SELECT p.oid::regprocedure AS definer_without_search_path
FROM pg_proc p
WHERE p.pronamespace = 'toggles'::regnamespace AND p.prosecdef
  AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%');

-- Only a superuser may change retention.
SET SESSION AUTHORIZATION regress_admin;
SET pg_toggles.log_retention = '1h';
SET pg_toggles.log_keep_versions = 1;
RESET SESSION AUTHORIZATION;
