-- pg_toggles 0.1.0 -> 0.2.0: targeting (docs/targeting.md).
\echo Use "ALTER EXTENSION pg_toggles UPDATE TO '0.2.0'" to load this file. \quit

-- A constant default makes ADD COLUMN a catalog change: no rewrite, no row trigger, so
-- no new version and nothing in the log.  Every existing toggle gets no rules and no
-- variants, which evaluates to is_active for everybody, as before.
ALTER TABLE toggles.features
    ADD COLUMN rules jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN variants jsonb NOT NULL DEFAULT '{}';
COMMENT ON COLUMN toggles.features.rules IS
    'Targeting rules, tried in order; [] = on for everyone while is_active (docs/targeting.md)';
COMMENT ON COLUMN toggles.features.variants IS
    'Named values the rules can serve: {"name": value, ...}; {} = a plain on/off toggle';

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

-- The same privileges as a fresh install: revoke the default, then grant.
REVOKE ALL ON FUNCTION toggles.enabled(text, jsonb, timestamptz),
    toggles.evaluate(text, jsonb, timestamptz),
    toggles.evaluate_definition(jsonb, jsonb, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION toggles.enabled(text, jsonb, timestamptz),
    toggles.evaluate(text, jsonb, timestamptz),
    toggles.evaluate_definition(jsonb, jsonb, timestamptz) TO PUBLIC;

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

-- Least privilege: pushd reads the log's new row images, not the old ones nor who wrote
-- them (docs/security.md).
REVOKE SELECT ON toggles.changes FROM toggles_pushd;
GRANT SELECT (id, version, operation, name, new) ON toggles.changes TO toggles_pushd;
