-- pg_toggles 0.2.0 -> 0.3.0: which transport each live connection uses.
\echo Use "ALTER EXTENSION pg_toggles UPDATE TO '0.3.0'" to load this file. \quit

-- A constant default: no rewrite.  The rows present are WebSocket clients (the only
-- transport that 0.2.0's daemons register); the CHECK is verified over them.
ALTER TABLE toggles.connections
    ADD COLUMN transport text NOT NULL DEFAULT 'websocket'
        CHECK (transport IN ('websocket', 'sse', 'ofrep-events'));
COMMENT ON TABLE toggles.connections IS
    'Live stream clients of every toggles-pushd node; last_seen is the node''s last heartbeat';
COMMENT ON COLUMN toggles.connections.transport IS
    'websocket (GET /v1/stream), sse (GET /v1/events) or ofrep-events (GET /ofrep/v1/events)';

-- The same signature: its owner, SECURITY DEFINER and grants stay.  A daemon that sends
-- no transport (0.2.0's) registers websocket, as before.
CREATE OR REPLACE FUNCTION toggles.register_connections(node_name text, conns jsonb) RETURNS integer
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
