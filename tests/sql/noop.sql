-- An UPDATE that changes nothing leaves the row, its version and the log alone.
SELECT name, version, updated_at FROM toggles.features WHERE name = 'plain' \gset old_
SELECT count(*) AS log_before FROM toggles.changes \gset
UPDATE toggles.features SET is_active = is_active, description = description WHERE name = 'plain';
UPDATE toggles.features SET is_active = is_active;
-- Writing the extension-owned columns alone is no change either.
UPDATE toggles.features SET version = 0, updated_by = 'x' WHERE name = 'plain';
SELECT version = :old_version AS same_version, updated_at = :'old_updated_at' AS same_updated_at
FROM toggles.features WHERE name = 'plain';
SELECT count(*) - :log_before AS new_log_entries FROM toggles.changes;

-- A real change in the same statement as a no-op: only the real one is logged.
UPDATE toggles.features SET description = 'Set by Alice' WHERE name IN ('one', 'two');
SELECT count(*) - :log_before AS new_log_entries FROM toggles.changes;
SELECT name FROM toggles.changes WHERE id > (SELECT max(id) - 1 FROM toggles.changes);

-- INSERT ... ON CONFLICT DO UPDATE with the same values is a no-op too.
INSERT INTO toggles.features (name, is_active, description) VALUES ('plain', true, '')
ON CONFLICT (name) DO UPDATE SET is_active = excluded.is_active, description = excluded.description;
SELECT count(*) - :log_before AS new_log_entries FROM toggles.changes;
