// relay.js — the Node.js peer of the benchmark: what a competent user would write to push
// pg_toggles changes over WebSockets with `ws` and `pg`, in the same message shapes as
// toggles-pushd.  No permessage-deflate; each change is serialised once into one Buffer
// and sent to every client; snapshots on connect come from a connection pool.
'use strict';
const { WebSocketServer } = require('ws');
const { Client, Pool } = require('pg');

const port = Number(process.env.PORT || 8091);
const db = process.env.DATABASE_URL;
const pool = new Pool({ connectionString: db, max: Number(process.env.POOL_SIZE || 8) });
const listener = new Client({ connectionString: db });
const CHANGES = `SELECT version, operation, name, new->>'description' AS description,
  (new->>'is_active')::boolean AS active, new->>'updated_at' AS updated_at
  FROM toggles.changes WHERE version > $1 ORDER BY version, id`;
let last = 0, reading = false, again = false;

async function readChanges() {
  if (reading) { again = true; return; }
  reading = true;
  try {
    do {
      again = false;
      const { rows } = await listener.query(CHANGES, [last]);
      for (let i = 0; i < rows.length;) {
        const version = Number(rows[i].version), toggles = [], removed = [];
        for (; i < rows.length && Number(rows[i].version) === version; i++) {
          const r = rows[i];
          if (r.operation === 'delete') removed.push(r.name);
          else toggles.push({ name: r.name, active: r.active, version, description: r.description, updated_at: r.updated_at });
        }
        const msg = Buffer.from(JSON.stringify({ type: 'change', version, toggles, removed }));
        for (const ws of wss.clients) if (ws.readyState === 1) ws.send(msg, { binary: false });
        last = version;
      }
    } while (again);
  } finally { reading = false; }
}

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, backlog: 4096 });
wss.on('listening', () => console.error(`relay: listening on 127.0.0.1:${port}`));
wss.on('connection', async (ws) => {
  ws.on('error', () => {});
  try {
    const { rows } = await pool.query('SELECT toggles.snapshot()::text AS s');
    if (ws.readyState === 1) ws.send('{"type":"snapshot",' + rows[0].s.slice(1));
  } catch (e) { ws.close(1011, 'snapshot failed'); }
});

(async () => {
  await listener.connect();
  await listener.query('LISTEN toggles');
  last = Number((await listener.query('SELECT coalesce(max(version), 0) AS v FROM toggles.changes')).rows[0].v);
  listener.on('notification', () => readChanges().catch((e) => console.error('relay:', e.message)));
})().catch((e) => { console.error('relay:', e.message); process.exit(1); });
process.on('SIGTERM', () => process.exit(0));
