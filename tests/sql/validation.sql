-- Bad input is refused with an error that says what the rule is.
INSERT INTO toggles.features (name) VALUES ('dark mode');
INSERT INTO toggles.features (name) VALUES ('');
INSERT INTO toggles.features (name) VALUES ('9lives');
INSERT INTO toggles.features (name) VALUES ('café');
INSERT INTO toggles.features (name) VALUES (repeat('x', 101));
INSERT INTO toggles.features (name) VALUES (repeat('x', 100)) RETURNING length(name);
DELETE FROM toggles.features WHERE name = repeat('x', 100);
-- The NOT NULL errors' detail shows the row with its timestamps: keep to the message.
\set VERBOSITY terse
INSERT INTO toggles.features (name) VALUES (NULL);
INSERT INTO toggles.features (name, is_active) VALUES ('nullable', NULL);
INSERT INTO toggles.features (name, description) VALUES ('nullable', NULL);
\set VERBOSITY default
INSERT INTO toggles.features (name, is_active) VALUES ('typo', 'maybe');
INSERT INTO toggles.features (name) VALUES ('plain');

-- Renames are refused, also through a NULL.
UPDATE toggles.features SET name = 'plain2' WHERE name = 'plain';
UPDATE toggles.features SET name = NULL WHERE name = 'plain';

-- TRUNCATE would bypass the change stream.
TRUNCATE toggles.features;

-- PREPARE TRANSACTION is refused for toggle writes, and works for anything else.
BEGIN;
UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'plain';
PREPARE TRANSACTION 'regress_toggle_write';
SELECT count(*) AS prepared FROM pg_prepared_xacts;
CREATE TABLE public.unrelated (x int);
BEGIN;
INSERT INTO public.unrelated VALUES (1);
PREPARE TRANSACTION 'regress_unrelated';
COMMIT PREPARED 'regress_unrelated';
DROP TABLE public.unrelated;

-- Nothing of the refused statements reached the toggles or the log.
SELECT name FROM toggles.features ORDER BY name;
SELECT count(*) AS log_entries FROM toggles.changes;

-- The trigger functions refuse to be used any other way.
SELECT toggles.features_before_row();
CREATE TABLE public.misuse (name text);
CREATE TRIGGER misuse AFTER INSERT ON public.misuse
    FOR EACH STATEMENT EXECUTE FUNCTION toggles.features_before_row();
INSERT INTO public.misuse VALUES ('x');
DROP TABLE public.misuse;
