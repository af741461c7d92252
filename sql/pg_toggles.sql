-- pg_toggles install script: the schema of the current version.
-- The Makefile copies it to sql/pg_toggles--$(EXTVERSION).sql; released versions' scripts
-- are kept beside it, and every schema change is a new version with an upgrade script.
\echo Use "CREATE EXTENSION pg_toggles" to load this file. \quit

-- Group roles, cluster-wide and so created only where missing.  Members of
-- toggles_admin flip toggles; toggles_pushd is what the push daemon logs in as (or is
-- granted to).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'toggles_admin') THEN
        CREATE ROLE toggles_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'toggles_pushd') THEN
        CREATE ROLE toggles_pushd NOLOGIN;
    END IF;
END
$roles$;

-- Draws one version per writing transaction, under an exclusive lock held to commit,
-- so that versions follow commit order (extension/change_stream.c).  CACHE 1 matters:
-- a backend-local cache would hand out values out of order.
CREATE SEQUENCE toggles.version_seq AS bigint CACHE 1;

CREATE TABLE toggles.features (
    name        text PRIMARY KEY,
    is_active   boolean NOT NULL DEFAULT false,
    description text NOT NULL DEFAULT '',
    version     bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by  text NOT NULL DEFAULT '',
    -- Targeting (docs/targeting.md), validated by the row trigger.  Last, where 0.2.0's
    -- ALTER TABLE ... ADD COLUMN put them, so that fresh and updated installs agree.
    rules       jsonb NOT NULL DEFAULT '[]',
    variants    jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE toggles.features IS
    'Feature toggles; flip with UPDATE toggles.features SET is_active = ... WHERE name = ...';
COMMENT ON COLUMN toggles.features.version IS
    'Version of the transaction that last changed the toggle; set by the extension';
COMMENT ON COLUMN toggles.features.updated_by IS
    'pg_toggles.actor if set, else session_user; set by the extension';
COMMENT ON COLUMN toggles.features.rules IS
    'Targeting rules, tried in order; [] = on for everyone while is_active (docs/targeting.md)';
COMMENT ON COLUMN toggles.features.variants IS
    'Named values the rules can serve: {"name": value, ...}; {} = a plain on/off toggle';

CREATE TABLE toggles.changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version     bigint NOT NULL,
    operation   text NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
    name        text NOT NULL,
    old         jsonb,
    new         jsonb,
    changed_by  text NOT NULL,
    db_user     text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX changes_version_idx ON toggles.changes (version);
COMMENT ON TABLE toggles.changes IS
    'Append-only change log: one entry per row change, in version order; pruned by toggles.prune_changes()';

-- Written by toggles-pushd through the SECURITY DEFINER functions below.  UNLOGGED:
-- after a crash it starts empty, so a crashed node's rows cannot linger.
CREATE UNLOGGED TABLE toggles.connections (
    node         text NOT NULL CHECK (pg_catalog.length(node) BETWEEN 1 AND 255),
    conn_id      bigint NOT NULL,
    peer         inet,
    user_agent   text NOT NULL DEFAULT '',
    context      jsonb NOT NULL DEFAULT '{}',
    connected_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_seen    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- Since 0.3.0, last: where the upgrade's ADD COLUMN puts it.
    transport    text NOT NULL DEFAULT 'websocket'
                 CHECK (transport IN ('websocket', 'sse', 'ofrep-events')),
    PRIMARY KEY (node, conn_id)
);
COMMENT ON TABLE toggles.connections IS
    'Live stream clients of every toggles-pushd node; last_seen is the node''s last heartbeat';
COMMENT ON COLUMN toggles.connections.transport IS
    'websocket (GET /v1/stream), sse (GET /v1/events) or ofrep-events (GET /ofrep/v1/events)';

-- The id part of the epoch (toggles.epoch()); drawn anew by every CREATE EXTENSION.
CREATE TABLE toggles.instance (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
INSERT INTO toggles.instance DEFAULT VALUES;

-- pg_dump keeps the toggles, the log and both counters (so versions and log ids go on
-- rising after a restore); toggles.instance is left out on purpose: a restore is a new
-- epoch.
SELECT pg_catalog.pg_extension_config_dump('toggles.features', '');
SELECT pg_catalog.pg_extension_config_dump('toggles.changes', '');
SELECT pg_catalog.pg_extension_config_dump('toggles.version_seq', '');
SELECT pg_catalog.pg_extension_config_dump('toggles.changes_id_seq', '');

-- Triggers (extension/features_triggers.c).
CREATE FUNCTION toggles.features_before_statement() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'features_before_statement';
CREATE FUNCTION toggles.features_before_row() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'features_before_row';
CREATE FUNCTION toggles.features_after_row() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'features_after_row';
CREATE FUNCTION toggles.features_refuse_truncate() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'features_refuse_truncate';

CREATE TRIGGER features_lock_version
    BEFORE INSERT OR UPDATE OR DELETE ON toggles.features
    FOR EACH STATEMENT EXECUTE FUNCTION toggles.features_before_statement();
CREATE TRIGGER features_stamp
    BEFORE INSERT OR UPDATE ON toggles.features
    FOR EACH ROW EXECUTE FUNCTION toggles.features_before_row();
CREATE TRIGGER features_log
    AFTER INSERT OR UPDATE OR DELETE ON toggles.features
    FOR EACH ROW EXECUTE FUNCTION toggles.features_after_row();
CREATE TRIGGER features_no_truncate
    BEFORE TRUNCATE ON toggles.features
    FOR EACH STATEMENT EXECUTE FUNCTION toggles.features_refuse_truncate();

-- Reading.
CREATE FUNCTION toggles.epoch() RETURNS text
    LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'epoch';
COMMENT ON FUNCTION toggles.epoch() IS
    'system identifier - timeline - instance id; versions compare only within one epoch';

-- One statement, so one MVCC snapshot: the toggles and the version agree.  Versions
-- follow commit order, so the highest version visible is the state's version.
CREATE FUNCTION toggles.snapshot() RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'epoch', toggles.epoch(),
        'version', greatest(coalesce(max(f.version), 0),
                            coalesce((SELECT max(c.version) FROM toggles.changes c), 0)),
        'toggles', coalesce(jsonb_agg(jsonb_build_object(
                        'name', f.name,
                        'active', f.is_active,
                        'version', f.version,
                        'description', f.description,
                        'updated_at', f.updated_at) ORDER BY f.name), '[]'::jsonb))
    FROM toggles.features f
$$;

-- Evaluation (extension/targeting_sql.c): the rules of docs/targeting.md for a client
-- context at an instant.  They reveal only the result, so PUBLIC may call them; they
-- read toggles.features whatever the caller's privileges on it.
CREATE FUNCTION toggles.enabled(name text, context jsonb DEFAULT '{}',
                                at timestamptz DEFAULT pg_catalog.now())
    RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'enabled';
COMMENT ON FUNCTION toggles.enabled(text, jsonb, timestamptz) IS
    'Whether the toggle is on for this context at this instant; false for an unknown toggle';

CREATE FUNCTION toggles.evaluate(name text, context jsonb DEFAULT '{}',
                                 at timestamptz DEFAULT pg_catalog.now(),
                                 OUT active boolean, OUT value jsonb, OUT variant text,
                                 OUT reason text)
    RETURNS record
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'evaluate';
COMMENT ON FUNCTION toggles.evaluate(text, jsonb, timestamptz) IS
    'Active, value, variant and reason of the toggle for this context at this instant';

CREATE FUNCTION toggles.evaluate_definition(definition jsonb, context jsonb DEFAULT '{}',
                                            at timestamptz DEFAULT pg_catalog.now(),
                                            OUT active boolean, OUT value jsonb,
                                            OUT variant text, OUT reason text)
    RETURNS record
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'evaluate_definition';
COMMENT ON FUNCTION toggles.evaluate_definition(jsonb, jsonb, timestamptz) IS
    'Evaluates {"name","is_active","rules","variants"} without storing it: tries rules before saving them';

-- Writing: an upsert for operators and scripts; runs with the caller's rights.
CREATE FUNCTION toggles.set(toggle_name text, active boolean, toggle_description text DEFAULT NULL)
    RETURNS toggles.features
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO toggles.features AS f (name, is_active, description)
    VALUES (toggle_name, active, coalesce(toggle_description, ''))
    ON CONFLICT (name) DO UPDATE
        SET is_active = excluded.is_active,
            description = coalesce(toggle_description, f.description)
    RETURNING f.*
$$;

-- The daemon's writes: SECURITY DEFINER, each with a fixed search_path.
CREATE FUNCTION toggles.register_connections(node_name text, conns jsonb) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH upserted AS (
        INSERT INTO toggles.connections AS c
            (node, conn_id, peer, user_agent, context, connected_at, last_seen, transport)
        SELECT node_name, r.id, r.peer, left(coalesce(r.user_agent, ''), 512),
               coalesce(r.context, '{}'), coalesce(r.connected_at, now()), now(),
               coalesce(r.transport, 'websocket')
        FROM jsonb_to_recordset(conns)
             AS r(id bigint, peer inet, user_agent text, context jsonb, connected_at timestamptz,
                  transport text)
        ON CONFLICT (node, conn_id) DO UPDATE
            SET peer = excluded.peer, user_agent = excluded.user_agent,
                context = excluded.context, connected_at = excluded.connected_at,
                last_seen = excluded.last_seen, transport = excluded.transport
        RETURNING 1)
    SELECT count(*)::integer FROM upserted
$$;
COMMENT ON FUNCTION toggles.register_connections(text, jsonb) IS
    'Adds or refreshes a batch of connections: [{"id":1,"peer":"::1","user_agent":"...","context":{},"connected_at":"...","transport":"websocket"}]';

CREATE FUNCTION toggles.unregister_connections(node_name text, conn_ids bigint[]) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH deleted AS (
        DELETE FROM toggles.connections
        WHERE node = node_name AND conn_id = ANY (conn_ids)
        RETURNING 1)
    SELECT count(*)::integer FROM deleted
$$;

CREATE FUNCTION toggles.unregister_node(node_name text) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH deleted AS (
        DELETE FROM toggles.connections WHERE node = node_name RETURNING 1)
    SELECT count(*)::integer FROM deleted
$$;
COMMENT ON FUNCTION toggles.unregister_node(text) IS
    'Removes every connection of a node: at its shutdown, and by its successor at start-up';

CREATE FUNCTION toggles.heartbeat(node_name text) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH touched AS (
        UPDATE toggles.connections SET last_seen = now() WHERE node = node_name RETURNING 1)
    SELECT count(*)::integer FROM touched
$$;

CREATE FUNCTION toggles.reap_connections(lease interval DEFAULT '90 seconds') RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH reaped AS (
        DELETE FROM toggles.connections WHERE last_seen < now() - lease RETURNING 1)
    SELECT count(*)::integer FROM reaped
$$;
COMMENT ON FUNCTION toggles.reap_connections(interval) IS
    'Removes connections whose node has not sent a heartbeat within the lease';

CREATE FUNCTION toggles.prune_changes() RETURNS bigint
    LANGUAGE c SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'prune_changes';
COMMENT ON FUNCTION toggles.prune_changes() IS
    'Deletes log entries older than pg_toggles.log_retention outside the newest pg_toggles.log_keep_versions versions';

-- Privileges.  PUBLIC may read the toggles and the log's outline, not the row images
-- (they may hold what descriptions say) and not the connections (peer addresses).
REVOKE ALL ON ALL TABLES IN SCHEMA toggles FROM PUBLIC;
REVOKE ALL ON SEQUENCE toggles.version_seq FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA toggles FROM PUBLIC;
GRANT USAGE ON SCHEMA toggles TO PUBLIC, toggles_admin, toggles_pushd;

GRANT SELECT ON toggles.features, toggles.instance TO PUBLIC;
GRANT SELECT (id, version, operation, name, changed_by, changed_at) ON toggles.changes TO PUBLIC;
GRANT EXECUTE ON FUNCTION toggles.epoch(), toggles.snapshot() TO PUBLIC;
GRANT EXECUTE ON FUNCTION toggles.enabled(text, jsonb, timestamptz),
    toggles.evaluate(text, jsonb, timestamptz),
    toggles.evaluate_definition(jsonb, jsonb, timestamptz) TO PUBLIC;

GRANT SELECT, INSERT, UPDATE, DELETE ON toggles.features TO toggles_admin;
GRANT SELECT ON toggles.changes, toggles.connections TO toggles_admin;
GRANT EXECUTE ON FUNCTION toggles.set(text, boolean, text), toggles.prune_changes(),
    toggles.reap_connections(interval) TO toggles_admin;

-- pushd reads the log's new row images, not the old ones nor who wrote them.
GRANT SELECT ON toggles.features TO toggles_pushd;
GRANT SELECT (id, version, operation, name, new) ON toggles.changes TO toggles_pushd;
GRANT EXECUTE ON FUNCTION toggles.register_connections(text, jsonb),
    toggles.unregister_connections(text, bigint[]), toggles.unregister_node(text),
    toggles.heartbeat(text), toggles.reap_connections(interval),
    toggles.prune_changes() TO toggles_pushd;

-- Client tokens (docs/security.md).  toggles-pushd admits a client only with a token
-- (unless run with --allow-anonymous), and the token's scope limits which toggles the
-- client learns of.  Only the SHA-256 of a token is stored; the text is shown once.
CREATE TABLE toggles.tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label       text NOT NULL CHECK (pg_catalog.length(label) BETWEEN 1 AND 200),
    hash        bytea NOT NULL UNIQUE CHECK (pg_catalog.length(hash) = 32),
    scope       text[] NOT NULL CHECK (pg_catalog.cardinality(scope) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  text NOT NULL DEFAULT session_user,
    expires_at  timestamptz,
    revoked_at  timestamptz
);
COMMENT ON TABLE toggles.tokens IS
    'Client tokens of toggles-pushd: SHA-256 hashes, scopes (toggle-name patterns), expiry, revocation';
SELECT pg_catalog.pg_extension_config_dump('toggles.tokens', '');
SELECT pg_catalog.pg_extension_config_dump('toggles.tokens_id_seq', '');

-- create_token returns the token text, once: 'tgt_' and 64 hex digits, 244 random bits
-- from two version-4 UUIDs (pg_strong_random underneath).  A scope entry is a toggle
-- name, or a pattern where '*' stands for any run of characters ('checkout.*', '*').
CREATE FUNCTION toggles.create_token(label text, scope text[], expires_at timestamptz DEFAULT NULL)
    RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    token text := 'tgt_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
    pattern text;
BEGIN
    IF scope IS NULL OR cardinality(scope) = 0 THEN
        RAISE EXCEPTION 'a token needs a scope: toggle names or patterns such as ''checkout.*'' or ''*'''
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH pattern IN ARRAY scope LOOP
        IF pattern IS NULL OR pattern !~ '^[A-Za-z*][A-Za-z0-9._*-]{0,99}$' THEN
            RAISE EXCEPTION 'invalid scope pattern %', coalesce(quote_literal(pattern), 'NULL')
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A pattern is a toggle name in which * stands for any run of characters.';
        END IF;
    END LOOP;
    IF expires_at IS NOT NULL AND expires_at <= now() THEN
        RAISE EXCEPTION 'expires_at % is not in the future', expires_at
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO toggles.tokens (label, hash, scope, expires_at, created_by)
    VALUES (create_token.label, sha256(convert_to(token, 'UTF8')), create_token.scope,
            create_token.expires_at, session_user);
    -- A hint to every toggles-pushd: it reads the token set again (a forged copy of this
    -- notification makes it read, nothing more).
    PERFORM pg_notify('toggles', '{"v":1,"tokens":true}');
    RETURN token;
END
$$;
COMMENT ON FUNCTION toggles.create_token(text, text[], timestamptz) IS
    'Makes a client token for toggles-pushd and returns its text (shown only this once)';

CREATE FUNCTION toggles.revoke_token(token_id bigint) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE toggles.tokens SET revoked_at = now() WHERE id = token_id AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pg_notify('toggles', '{"v":1,"tokens":true}');
    RETURN true;
END
$$;
COMMENT ON FUNCTION toggles.revoke_token(bigint) IS
    'Revokes a token: toggles-pushd closes its connections (4003) within a second; false if already revoked or unknown';

-- Nobody but the owner reads the hashes, except toggles-pushd, which checks tokens in
-- memory; admins see everything else.
REVOKE ALL ON toggles.tokens FROM PUBLIC;
REVOKE ALL ON FUNCTION toggles.create_token(text, text[], timestamptz),
    toggles.revoke_token(bigint) FROM PUBLIC;
GRANT SELECT (id, label, scope, created_at, created_by, expires_at, revoked_at)
    ON toggles.tokens TO toggles_admin;
GRANT EXECUTE ON FUNCTION toggles.create_token(text, text[], timestamptz),
    toggles.revoke_token(bigint) TO toggles_admin;
GRANT SELECT ON toggles.tokens TO toggles_pushd;
