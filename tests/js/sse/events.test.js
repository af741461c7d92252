// events.test.js — GET /v1/events (Server-Sent Events) read by a real browser EventSource
// in Debian's Chromium: the snapshot, a flip as a change, pushd SIGKILLed and restarted
// (the EventSource comes back by itself with Last-Event-ID and gets a change, not a
// snapshot), and the database cut (through a TCP relay this file owns): the stream is
// told to retry, never dropped for good, and goes on once the database is back.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { launch } from '../harness/browser.js';
import { createDatabase, psql, version } from '../harness/db.js';
import { env } from '../harness/env.js';
import { Pushd, freePort } from '../harness/pushd.js';
import { sleep, waitFor } from '../harness/wait.js';

const DB = 'js_sse_events';
let pushd;
let browser;
let page;
let relay;

// Relay: a TCP port in front of the cluster's Unix socket, for pushd to reach the database
// through; cut() drops every connection and refuses new ones, heal() lets them in again.
class Relay {
	constructor(socketPath) {
		this.socketPath = socketPath;
		this.open = new Set();
	}

	async listen(port) {
		this.port = port ?? await freePort();
		this.server = createServer((client) => {
			const upstream = connect(this.socketPath);
			this.open.add(client).add(upstream);
			const drop = () => { client.destroy(); upstream.destroy(); this.open.delete(client); this.open.delete(upstream); };
			client.on('error', drop).on('close', drop);
			upstream.on('error', drop).on('close', drop);
			client.pipe(upstream).pipe(client);
		});
		await new Promise((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
	}

	async cut() {
		const closed = new Promise((resolve) => this.server.close(resolve));
		this.open.forEach((s) => s.destroy());
		await closed;
	}

	async heal() {
		await this.listen(this.port);
	}
}

// readFor(path, ms): status, headers and the body text of a stream read for ms milliseconds.
async function readFor(path, ms) {
	const ac = new AbortController();
	const res = await fetch(`${pushd.httpUrl}${path}`, { signal: ac.signal });
	let text = '';
	const timer = setTimeout(() => ac.abort(), ms);
	try {
		for await (const chunk of res.body)
			text += Buffer.from(chunk).toString();
	} catch { /* aborted: the stream does not end by itself */ }
	clearTimeout(timer);
	return { status: res.status, headers: res.headers, text };
}

// events(): what the page's EventSource has received: [{type, id, data}].
const events = () => page.evaluate(() => window.__events);
const readyState = () => page.evaluate(() => window.__source.readyState);

before(async () => {
	await createDatabase(DB);
	await psql(DB, "INSERT INTO toggles.features (name, is_active) VALUES ('dark-mode', false), ('beta', true)");
	const host = /host=(\S+)/.exec(env.pg)[1];
	const port = /port=(\d+)/.exec(env.pg)[1];
	relay = new Relay(`${host}/.s.PGSQL.${port}`);
	await relay.listen();
	// The test's own conninfo (its user and all) with the relay in place of the socket.
	process.env.TOGGLES_JS_PUSHD_DB = env.pg.replace(/host=\S+/, 'host=127.0.0.1').replace(/port=\d+/, `port=${relay.port}`);
	pushd = await Pushd.start({ db: DB, args: ['--outage-grace', '1', '--outage-close-spread', '0', '--reconnect-max', '300',
		'--sse-heartbeat', '1'] });
	browser = await launch();
	page = await browser.newPage();
	// The page's own origin is pushd's: EventSource needs no CORS here.
	await page.goto(`${pushd.httpUrl}/healthz`);
	await page.evaluate(() => {
		window.__events = [];
		window.__source = new EventSource('/v1/events');
		for (const type of ['snapshot', 'change'])
			window.__source.addEventListener(type, (e) => window.__events.push({ type, id: e.lastEventId, data: JSON.parse(e.data) }));
	});
});

after(async () => {
	await browser?.close();
	await pushd?.stop();
	await relay?.cut();
});

test('the snapshot first, with id EPOCH:VERSION', async () => {
	await waitFor(async () => (await events()).length >= 1, 5000, 'a first event');
	const [first] = await events();
	assert.equal(first.type, 'snapshot');
	assert.equal(first.id, `${first.data.epoch}:${first.data.version}`);
	assert.deepEqual(first.data.toggles.map((t) => [t.name, t.active]), [['beta', true], ['dark-mode', false]]);
});

test('a flip arrives as a change within 2 s', async () => {
	const t0 = Date.now();
	await psql(DB, "UPDATE toggles.features SET is_active = true WHERE name = 'dark-mode'");
	await waitFor(async () => (await events()).some((e) => e.type === 'change'), 2000, 'the change');
	const change = (await events()).find((e) => e.type === 'change');
	assert.deepEqual(change.data.toggles.map((t) => [t.name, t.active]), [['dark-mode', true]]);
	assert.equal(change.id.split(':')[1], String(change.data.version));
	assert.ok(Date.now() - t0 < 2000);
});

test('pushd SIGKILLed and restarted: the EventSource resumes by itself with a change, not a snapshot', async () => {
	const before = (await events()).length;
	const metricsBefore = await pushd.metrics();
	await pushd.kill9();
	await psql(DB, "UPDATE toggles.features SET is_active = false WHERE name = 'beta'");
	await pushd.restart();
	await waitFor(async () => (await events()).length > before, 10000, 'an event after the restart');
	const next = (await events())[before];
	assert.equal(next.type, 'change', 'resumed through Last-Event-ID');
	assert.deepEqual(next.data.toggles.map((t) => [t.name, t.active]), [['beta', false]]);
	assert.equal(await readyState(), 1, 'open');
	assert.ok(metricsBefore.pushd_sse_streams_total >= 1);
});

test('raw: the headers, retry: 1000 first, and a heartbeat comment from the sweep on a quiet stream', async () => {
	const r = await readFor('/v1/events', 2500);
	assert.equal(r.status, 200);
	assert.equal(r.headers.get('content-type'), 'text/event-stream');
	assert.equal(r.headers.get('cache-control'), 'no-cache');
	assert.equal(r.headers.get('x-accel-buffering'), 'no');
	assert.match(r.text, /^retry: 1000\n\nid: [^\n]+:\d+\nevent: snapshot\ndata: \{/);
	assert.ok((r.text.match(/^: ping$/gm) ?? []).length >= 1, `a heartbeat in 2.5 s (--sse-heartbeat 1): ${r.text.slice(-200)}`);
});

test('raw: streams whose clients hang up cost no CPU meanwhile and are let go at the next heartbeat', async () => {
	const cpuTicks = () => readFileSync(`/proc/${pushd.proc.pid}/stat`, 'utf8').split(') ')[1].split(' ')
		.slice(11, 13).reduce((a, b) => a + Number(b), 0);
	const before = await pushd.metrics();
	const socks = await Promise.all(Array.from({ length: 20 }, () => new Promise((resolve, reject) => {
		const sock = connect(pushd.port, '127.0.0.1', () => sock.write('GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n'));
		let text = '';
		sock.on('error', reject);
		sock.on('data', (d) => {
			text += d;
			if (text.includes('event: snapshot'))
				resolve(sock);
		});
	})));
	assert.equal((await pushd.metrics()).pushd_clients, before.pushd_clients + 20);
	socks.forEach((sock) => sock.end());
	// lws does not read a response under way: a readable socket nobody reads was a busy loop.
	const t0 = cpuTicks();
	await sleep(500);
	const ticks = cpuTicks() - t0;
	assert.ok(ticks < 25, `pushd used ${ticks * 10} ms of CPU in 500 ms with 20 hung-up streams`);
	let m;
	// (An earlier test's stream that hung up may go meanwhile too.)
	await waitFor(async () => (m = await pushd.metrics()).pushd_clients <= before.pushd_clients &&
		m.pushd_sse_hangups_total >= before.pushd_sse_hangups_total + 20, 5000,
		'the hung-up streams let go (--sse-heartbeat 1)',
		() => `pushd_clients ${m?.pushd_clients} (${before.pushd_clients} before), hang-ups ${m?.pushd_sse_hangups_total} (${before.pushd_sse_hangups_total} before)`);
});

test('raw: a refused token is a 401 (the EventSource stops), an unacceptable context a 400', async () => {
	let r = await readFor(`/v1/events?token=tgt_${'0'.repeat(64)}`, 1000);
	assert.equal(r.status, 401);
	assert.deepEqual(JSON.parse(r.text), { error: 'unauthorized', message: 'unknown token' });
	r = await readFor('/v1/events?context=%5B1%5D', 1000);
	assert.equal(r.status, 400);
	assert.equal(JSON.parse(r.text).error, 'invalid_context');
});

test('database cut: told to retry (a 200 that ends), never closed for good; back when the database is', async () => {
	const retriesBefore = (await pushd.metrics()).pushd_sse_retries_total;
	await relay.cut();
	// --outage-grace 1: the stream ends with retry:, and new attempts get a 200 with retry:.
	await waitFor(async () => (await pushd.metrics()).pushd_sse_retries_total > retriesBefore, 10000, 'a retry');
	// A newcomer meanwhile: a 200 that says when to come back, and ends.
	const r = await readFor('/v1/events', 3000);
	assert.equal(r.status, 200);
	assert.match(r.text, /^retry: \d+000\n: /);
	assert.doesNotMatch(r.text, /event:/);
	const states = [];
	for (let i = 0; i < 10; i++) {
		states.push(await readyState());
		await sleep(300);
	}
	assert.ok(!states.includes(2), `never CLOSED (readyState seen: ${states.join(',')})`);
	const seen = (await events()).length;
	await relay.heal();
	await psql(DB, "UPDATE toggles.features SET is_active = true WHERE name = 'beta'");
	const want = await version(DB);
	await waitFor(async () => (await events()).slice(seen).some((e) => e.data.version >= want), 20000,
		'the stream back after the cut', () => JSON.stringify(events));
	assert.equal(await readyState(), 1);
	const last = (await events()).at(-1);
	const beta = last.data.toggles.find((t) => t.name === 'beta');
	assert.equal(beta?.active, true);
});
