-- Large values: a 10,000-character description and a 300-toggle transaction.
INSERT INTO toggles.features (name, description) VALUES ('long-description', repeat('d', 10000));
SELECT length(description) FROM toggles.features WHERE name = 'long-description';
SELECT length(new ->> 'description') FROM toggles.changes WHERE name = 'long-description';
SELECT length(t ->> 'description')
FROM jsonb_array_elements(toggles.snapshot() -> 'toggles') AS t
WHERE t ->> 'name' = 'long-description';

BEGIN;
INSERT INTO toggles.features (name, description)
SELECT 'bulk-' || i, repeat('Long description of toggle ' || i || '. ', 20)
FROM generate_series(1, 300) AS i;
COMMIT;
-- One version for all 300, every one in the log.
SELECT count(*) AS entries, count(DISTINCT version) AS versions
FROM toggles.changes WHERE name LIKE 'bulk-%';
DELETE FROM toggles.features WHERE name LIKE 'bulk-%';
SELECT count(*) AS removals, count(DISTINCT version) AS versions
FROM toggles.changes WHERE name LIKE 'bulk-%' AND operation = 'delete';
