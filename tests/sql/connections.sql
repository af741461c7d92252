-- The connection registry toggles-pushd keeps through its SECURITY DEFINER functions.
SET SESSION AUTHORIZATION regress_pushd;

-- A batch registers in one statement; registering again refreshes (no duplicates).
SELECT toggles.register_connections('node-a:8080', $$[
    {"id": 1, "peer": "127.0.0.1", "user_agent": "curl/8", "context": {"user": "u1"},
     "connected_at": "2026-01-01T00:00:00Z"},
    {"id": 2, "peer": "::1", "user_agent": null},
    {"id": 3}
]$$);
SELECT toggles.register_connections('node-a:8080', '[{"id": 3, "peer": "10.0.0.3", "context": {"user": "u3"}}]');
SELECT toggles.register_connections('node-b:8080', '[{"id": 1, "peer": "10.0.0.9"}]');
SELECT toggles.register_connections('node-a:8080', '[]');
RESET SESSION AUTHORIZATION;

SELECT node, conn_id, peer, user_agent, context, connected_at = '2026-01-01T00:00:00Z' AS given_time
FROM toggles.connections ORDER BY node, conn_id;

-- An over-long user agent is cut to 512 characters.
SET SESSION AUTHORIZATION regress_pushd;
SELECT toggles.register_connections('node-a:8080', jsonb_build_array(jsonb_build_object('id', 4, 'user_agent', repeat('u', 5000))));
RESET SESSION AUTHORIZATION;
SELECT length(user_agent) FROM toggles.connections WHERE conn_id = 4;

-- Bad input is refused whole, with an error naming the problem (terse: the details
-- show timestamps).
\set VERBOSITY terse
SET SESSION AUTHORIZATION regress_pushd;
SELECT toggles.register_connections('node-a:8080', '[{"id": 5, "peer": "not-an-address"}]');
SELECT toggles.register_connections('node-a:8080', '[{"id": "five"}]');
SELECT toggles.register_connections('node-a:8080', '[{"peer": "127.0.0.1"}]');
SELECT toggles.register_connections('', '[{"id": 5}]');
SELECT toggles.register_connections('node-a:8080', '{"id": 5}');
RESET SESSION AUTHORIZATION;
\set VERBOSITY default
SELECT count(*) AS connections FROM toggles.connections;

-- Unregister a batch; heartbeat refreshes last_seen of the node's rows only.
SET SESSION AUTHORIZATION regress_pushd;
SELECT toggles.unregister_connections('node-a:8080', ARRAY[1, 2, 99]);
RESET SESSION AUTHORIZATION;
UPDATE toggles.connections SET last_seen = now() - interval '10 minutes';
SET SESSION AUTHORIZATION regress_pushd;
SELECT toggles.heartbeat('node-a:8080');
-- node-b stopped sending heartbeats: its rows are reaped after the lease.
SELECT toggles.reap_connections('5 minutes');
RESET SESSION AUTHORIZATION;
SELECT node, conn_id FROM toggles.connections ORDER BY node, conn_id;

-- A node's successor (or the node at shutdown) clears all of its rows.
SET SESSION AUTHORIZATION regress_pushd;
SELECT toggles.unregister_node('node-a:8080');
RESET SESSION AUTHORIZATION;
SELECT count(*) AS connections FROM toggles.connections;
