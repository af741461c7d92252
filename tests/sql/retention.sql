-- The change log's growth is bounded by pg_toggles.log_retention (age) and never cuts
-- into the newest pg_toggles.log_keep_versions versions (the resume window).
-- With the defaults nothing recent goes.
SELECT toggles.prune_changes();

-- The settings exist once the module is loaded (by any toggles.* call or toggle write).
SHOW pg_toggles.log_retention;
SHOW pg_toggles.log_keep_versions;

INSERT INTO toggles.features (name) VALUES ('r1');
INSERT INTO toggles.features (name) VALUES ('r2');
INSERT INTO toggles.features (name) VALUES ('r3');
SELECT max(version) AS newest FROM toggles.changes \gset

-- Everything is old now, but the newest two versions are the resume window.
SET pg_toggles.log_retention = 0;
SET pg_toggles.log_keep_versions = 2;
SELECT toggles.prune_changes() > 0 AS pruned_some;
SELECT :newest - version AS versions_behind_newest, left(name, 20) AS name FROM toggles.changes ORDER BY id;

-- Age protects too: an entry within log_retention survives outside the window.
RESET pg_toggles.log_retention;
SET pg_toggles.log_keep_versions = 1;
SELECT toggles.prune_changes();
UPDATE toggles.changes SET changed_at = now() - interval '31 days' WHERE version < :newest;
SELECT toggles.prune_changes();
SELECT :newest - version AS versions_behind_newest, left(name, 20) AS name FROM toggles.changes ORDER BY id;
RESET pg_toggles.log_keep_versions;

-- The snapshot's version survives pruning of everything but the last entry.
SELECT (toggles.snapshot() ->> 'version')::bigint = :newest AS snapshot_version_kept;

-- Pruning removes a prefix only: a young entry protects every later version, even one
-- whose changed_at (its transaction's start) is older.
INSERT INTO toggles.features (name) VALUES ('p1');
INSERT INTO toggles.features (name) VALUES ('p2');
INSERT INTO toggles.features (name) VALUES ('p3');
UPDATE toggles.changes SET changed_at = now() - interval '40 days' WHERE name IN ('r3', 'p1', 'p3');
SET pg_toggles.log_keep_versions = 1;
SELECT toggles.prune_changes();
SELECT left(name, 20) AS name FROM toggles.changes ORDER BY id;
RESET pg_toggles.log_keep_versions;
