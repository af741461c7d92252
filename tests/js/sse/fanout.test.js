// fanout.test.js — many idle SSE readers and one change for all: 3000 raw /v1/events
// streams beside 1000 WebSocket clients on one pushd.  Every stream gets its snapshot and
// heartbeats from the one sweep timer (--sse-heartbeat 1) while idle, and is a row of
// toggles.connections with its transport; each flip reaches every client of both kinds,
// and the time until the last of each kind has it is reported side by side (same run,
// same machine), the figures docs/protocol.md quotes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { createDatabase, psql } from '../harness/db.js';
import { Pushd } from '../harness/pushd.js';
import { sleep, waitFor } from '../harness/wait.js';

const DB = 'js_sse_fanout';
const N = 1000;
const N_SSE = 3000;
let pushd;
const sse = [];
const ws = [];

// A raw SSE reader: counts snapshots, pings and the versions of the changes it was sent.
function sseReader(port) {
	return new Promise((resolve, reject) => {
		const r = { text: '', snapshots: 0, pings: 0, changes: new Map() };
		r.sock = connect(port, '127.0.0.1', () => r.sock.write('GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n'));
		r.sock.setEncoding('utf8');
		r.sock.on('error', reject);
		r.sock.on('data', (d) => {
			r.text += d;
			let i;
			while ((i = r.text.indexOf('\n\n')) >= 0) {
				const block = r.text.slice(0, i);
				r.text = r.text.slice(i + 2);
				if (block.includes('event: snapshot')) {
					r.snapshots++;
					resolve(r);
				} else if (block.includes('event: change'))
					r.changes.set(Number(/^id: .*:(\d+)$/m.exec(block)[1]), performance.now());
				else if (block.startsWith(': ping'))
					r.pings++;
			}
		});
	});
}

function wsClient(url) {
	return new Promise((resolve, reject) => {
		const c = { changes: new Map() };
		c.sock = new WebSocket(`${url}/v1/stream`, ['pg-toggles.v1']);
		c.sock.on('error', reject);
		c.sock.on('message', (m) => {
			const msg = JSON.parse(m);
			if (msg.type === 'snapshot')
				resolve(c);
			else if (msg.type === 'change')
				c.changes.set(msg.version, performance.now());
		});
	});
}

// inBatches(n, size, make): n clients made size at a time (a storm of n at once only
// measures the accept queue).
async function inBatches(n, size, make) {
	const all = [];
	for (let i = 0; i < n; i += size)
		all.push(...await Promise.all(Array.from({ length: Math.min(size, n - i) }, make)));
	return all;
}

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

before(async () => {
	await createDatabase(DB);
	await psql(DB, "INSERT INTO toggles.features (name, is_active) VALUES ('flag', false)");
	pushd = await Pushd.start({ db: DB, args: ['--max-connections-per-ip', String(2 * (N + N_SSE)), '--sse-heartbeat', '1'] });
});

after(async () => {
	sse.forEach((r) => r.sock.destroy());
	ws.forEach((c) => c.sock.terminate());
	await pushd?.stop();
});

test(`${N_SSE} SSE readers and ${N} WebSocket clients: every one gets its snapshot`, async (t) => {
	const rss0 = rssKb(pushd.proc.pid);
	sse.push(...await inBatches(N_SSE, 100, () => sseReader(pushd.port)));
	ws.push(...await inBatches(N, 100, () => wsClient(pushd.url)));
	assert.equal(sse.filter((r) => r.snapshots === 1).length, N_SSE);
	const m = await pushd.metrics();
	assert.equal(m.pushd_clients, N + N_SSE, 'both kinds count as clients');
	t.diagnostic(`pushd RSS ${rss0} kB before, ${rssKb(pushd.proc.pid)} kB with ${N_SSE} SSE + ${N} WebSocket clients`);
});

test('each is a row of toggles.connections with its transport', async () => {
	let seen;
	const rows = async () => (seen = await psql(DB,
		"SELECT string_agg(transport || ' ' || n, ',' ORDER BY transport) FROM (SELECT transport, count(*) AS n FROM toggles.connections GROUP BY 1) t"));
	await waitFor(async () => (await rows()) === `sse ${N_SSE},websocket ${N}`, 15000, 'a row per client', () => seen);
});

test('idle: the one sweep timer gives every SSE stream its heartbeats', async () => {
	const before = sse.map((r) => r.pings);
	await sleep(2500);
	const quiet = sse.filter((r, i) => r.pings - before[i] < 1).length;
	assert.equal(quiet, 0, `${quiet} streams got no heartbeat in 2.5 s (--sse-heartbeat 1)`);
});

test('a flip reaches every client of both kinds; fan-out times side by side', async (t) => {
	const rows = [];
	for (let round = 0; round < 3; round++) {
		const t0 = performance.now();
		const v = Number(await psql(DB, `UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'flag' RETURNING version`));
		await waitFor(() => sse.every((r) => r.changes.has(v)) && ws.every((c) => c.changes.has(v)), 15000,
			`version ${v} at every client`,
			() => `SSE ${sse.filter((r) => r.changes.has(v)).length}/${N_SSE}, WebSocket ${ws.filter((c) => c.changes.has(v)).length}/${N}`);
		const last = (list) => Math.max(...list.map((c) => c.changes.get(v))) - t0;
		rows.push([last(sse), last(ws)]);
		t.diagnostic(`fan-out of version ${v}: last of ${N_SSE} SSE clients after ${last(sse).toFixed(0)} ms, last of ${N} WebSocket clients after ${last(ws).toFixed(0)} ms (from before the UPDATE)`);
		await sleep(300);
	}
	const median = (xs) => xs.sort((a, b) => a - b)[1];
	t.diagnostic(`median of 3: SSE ${median(rows.map((r) => r[0])).toFixed(0)} ms for ${N_SSE} clients, WebSocket ${median(rows.map((r) => r[1])).toFixed(0)} ms for ${N}`);
});
