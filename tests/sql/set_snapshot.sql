-- toggles.set: the upsert helper for operators and scripts.
SELECT name, is_active, description FROM toggles.set('beta-banner', true, 'Banner for beta users');
SELECT name, is_active, description FROM toggles.set('beta-banner', false);  -- keeps the description
SELECT name, is_active, description FROM toggles.set('beta-banner', false, '');
SELECT toggles.set('not valid', true);

-- toggles.snapshot: one consistent read of the state, its version and epoch.
SELECT (s ->> 'epoch') = toggles.epoch() AS current_epoch,
       (s ->> 'version')::bigint = (SELECT max(version) FROM toggles.changes) AS latest_version,
       jsonb_array_length(s -> 'toggles') = (SELECT count(*) FROM toggles.features) AS all_toggles
FROM toggles.snapshot() AS s;
SELECT t ->> 'name' AS name, t -> 'active' AS active, t -> 'version' AS version,
       t -> 'description' AS description, (t ->> 'updated_at')::timestamptz IS NOT NULL AS has_updated_at
FROM jsonb_array_elements(toggles.snapshot() -> 'toggles') AS t;

-- After deleting a toggle, the snapshot's version is that of the delete.
DELETE FROM toggles.features WHERE name = 'beta-banner';
SELECT (toggles.snapshot() ->> 'version')::bigint = (SELECT max(version) FROM toggles.changes)
    AS version_of_delete;
SELECT (toggles.snapshot() ->> 'version')::bigint > (SELECT max(version) FROM toggles.features)
    AS beyond_rows;
