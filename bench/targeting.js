// targeting.js — the benchmark's targeting scenario (bench/README.md, scenario 7), against
// a running toggles-pushd:
//   a. a rule change that alters the result of every one of N clients, each with its own
//      context: COMMIT returned -> the last client has its change (and each client gets
//      exactly one change);
//   b. a time window that opens at a whole second T with no database write: T -> each
//      client's change with cause "schedule".
// Prints CSV lines "pushd,targeting,N,metric,value" like the load generator.
//
//   node targeting.js --port P --token T --clients N --repeat R
// with PGHOST/PGPORT/PGDATABASE/PGUSER for the flipping connection.  Node's clock
// (process.hrtime) serves both the COMMIT and the receipt; window instants use Date.now,
// synchronised to hrtime once.
'use strict';
const WebSocket = require('./peers/node-relay/node_modules/ws');
const { Client } = require('./peers/node-relay/node_modules/pg');

const arg = (name, dflt) => {
	const i = process.argv.indexOf('--' + name);
	return i > 0 ? process.argv[i + 1] : dflt;
};
const port = Number(arg('port', 8096));
const token = arg('token', '');
const nclients = Number(arg('clients', 1000));
const repeat = Number(arg('repeat', 10));
const deadlineMs = 30000;

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const epochOffset = Date.now() - nowMs();	// wall clock = hrtime + offset
const toggle = 'bench-targeting';
const rule = (serve) => JSON.stringify([{ when: [{ attribute: 'key', op: 'starts_with', value: 'user-' }], serve }]);

function pct(sorted, p) {
	return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))] : NaN;
}
function out(metric, value) {
	console.log(`pushd,targeting,${nclients},${metric},${Number.isFinite(value) ? value.toFixed(3) : value}`);
}

async function main() {
	const db = new Client();
	await db.connect();
	await db.query(`DELETE FROM toggles.features WHERE name = $1`, [toggle]);
	await db.query(`INSERT INTO toggles.features (name, is_active, rules) VALUES ($1, true, $2)`, [toggle, rule(false)]);

	// N clients, N distinct contexts, N groups in pushd.
	const clients = [];
	let ready = 0;
	const opened = new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`only ${ready} of ${nclients} clients got a snapshot`)), deadlineMs);
		for (let i = 0; i < nclients; i++) {
			const context = encodeURIComponent(JSON.stringify({ key: `user-${i}`, plan: i % 3 ? 'free' : 'pro' }));
			const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/stream?context=${context}`,
				{ headers: token ? { Authorization: `Bearer ${token}` } : {}, perMessageDeflate: false });
			const c = { ws, changes: [] };
			ws.on('message', (data) => {
				const t = nowMs();
				const m = JSON.parse(data);
				if (m.type === 'snapshot') {
					if (++ready === nclients) { clearTimeout(timer); resolve(); }
				} else if (m.type === 'change' && m.toggles.some((x) => x.name === toggle)) {
					c.changes.push({ t, m });
				}
			});
			ws.on('error', (e) => reject(e));
			clients.push(c);
		}
	});
	await opened;

	const waitAll = (count) => new Promise((resolve, reject) => {
		const start = nowMs();
		const check = () => {
			if (clients.every((c) => c.changes.length >= count)) return resolve();
			if (nowMs() - start > deadlineMs) return reject(new Error('changes missing'));
			setTimeout(check, 2);
		};
		check();
	});

	// a. Rule changes: each flips every client's result.
	const lastMs = [];
	let expected = 0;
	for (let r = 0; r < repeat; r++) {
		await db.query(`UPDATE toggles.features SET rules = $2 WHERE name = $1`, [toggle, rule(r % 2 === 0)]);
		const committed = nowMs();
		expected++;
		await waitAll(expected);
		lastMs.push(Math.max(...clients.map((c) => c.changes[expected - 1].t)) - committed);
	}
	const extra = clients.filter((c) => c.changes.length !== expected).length;
	lastMs.sort((a, b) => a - b);
	out('rule_change_last_ms_p50', pct(lastMs, 50));
	out('rule_change_last_ms_max', lastMs[lastMs.length - 1]);
	out('rule_change_clients_with_extra_messages', extra);

	// b. A window opening at a whole second, about 2 s ahead: no write at T.
	await db.query(`UPDATE toggles.features SET rules = $2 WHERE name = $1`, [toggle, rule(false)]);
	expected += (repeat % 2 === 1) ? 1 : 0;	// the last rule served true: this flips back
	await waitAll(expected);
	const T = Math.ceil((Date.now() + 2500) / 1000) * 1000;
	const windowRule = JSON.stringify([{ when: [{ window: { from: new Date(T).toISOString().replace('.000Z', 'Z') } }], serve: true }]);
	await db.query(`UPDATE toggles.features SET rules = $2 WHERE name = $1`, [toggle, windowRule]);
	// The rule change itself is a change (the reason becomes DEFAULT: no rule matches yet),
	// then the opening at T is one with cause "schedule".
	await waitAll(expected + 1);
	await waitAll(expected + 2);
	const scheduled = [];
	for (const c of clients) {
		const ch = c.changes[c.changes.length - 1];
		if (ch.m.cause === 'schedule') scheduled.push(ch.t + epochOffset - T);
	}
	scheduled.sort((a, b) => a - b);
	out('window_open_clients', scheduled.length);
	out('window_open_delay_ms_p50', pct(scheduled, 50));
	out('window_open_delay_ms_p99', pct(scheduled, 99));
	out('window_open_delay_ms_max', scheduled[scheduled.length - 1]);

	for (const c of clients) c.ws.close();
	await db.query(`DELETE FROM toggles.features WHERE name = $1`, [toggle]);
	await db.end();
}

main().then(() => process.exit(0), (e) => { console.error(`targeting: ${e.message}`); process.exit(1); });
