// outage.test.js — the database link cut silently (the network lab: the cluster on db1,
// pushd over TCP): pushd notices, serves the last state for its --outage-grace, then closes
// its clients with 1013; the client turns stale within that bound, keeps its state, retries
// at the pace 503's Retry-After asks, and after the heal resumes with what it missed.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { client, closeAll } from '../harness/clients.js';
import { createDatabase, psql, tableState } from '../harness/db.js';
import { env } from '../harness/env.js';
import * as lab from '../harness/lab.js';
import { Pushd } from '../harness/pushd.js';
import { record, statusIs } from '../harness/wait.js';

const DB = 'js_outage';
const skip = lab.missing();
let pushd;

// pushd's side of the bound: an idle link is probed after 1 s, declared dead 2 s later,
// then served for a grace of 2 s; closes are not spread.
const PROBE_S = 1;
const DB_TIMEOUT_S = 2;
const GRACE_S = 2;
const BOUND_MS = (PROBE_S + DB_TIMEOUT_S + GRACE_S) * 1000 + 1500;

before(async () => {
	if (skip)
		return;
	await createDatabase(DB);
	await psql(DB, "INSERT INTO toggles.features (name, is_active) VALUES ('o-1', false), ('o-2', true)");
	pushd = await Pushd.start({
		db: DB,
		args: ['--db-probe-interval', PROBE_S, '--db-timeout', DB_TIMEOUT_S, '--outage-grace', GRACE_S,
			'--outage-close-spread', '0', '--reconnect-min', '200', '--reconnect-max', '1000'].map(String),
	});
});

after(async () => {
	closeAll();
	if (env.labHost && !skip)
		lab.heal(env.labHost);
	await pushd?.stop();
});

test('database link cut silently: stale within the bound, state kept, 503 paces the retries, resumed after the heal', { skip: skip ?? false }, async (t) => {
	// The client's own deadlines are longer than the bound: what it sees comes from pushd.
	const c = client(pushd.url, { pingInterval: 1000, readTimeout: 30000, connectTimeout: 5000 });
	await statusIs(c, 'ready', 5000);
	const log = record(c);
	const t0 = Date.now();
	lab.cut(env.labHost, 'root');
	await statusIs(c, 'stale', BOUND_MS + 2000);
	const took = Date.now() - t0;
	t.diagnostic(`stale ${took} ms after the database link was cut (bound ${BOUND_MS} ms)`);
	assert.ok(took <= BOUND_MS, `stale ${took} ms after the cut (bound ${BOUND_MS} ms)`);
	assert.ok(took >= GRACE_S * 1000, `not before the grace (${took} ms)`);
	assert.equal(c.error.code, 'unavailable');
	assert.equal(c.error.closeCode, 1013);
	assert.deepEqual(Object.fromEntries(c.all().map((t) => [t.name, t.active])), { 'o-1': false, 'o-2': true },
		'the last state is still served');

	// Newcomers get 503 with Retry-After: 5; the client waits at least that long.
	await psql(DB, "UPDATE toggles.features SET is_active = true WHERE name = 'o-1'");
	await new Promise((resolve) => {
		const check = () => (log.retries.some((r) => r.code === 'unavailable' && r.delay >= 5000) ? resolve() : setTimeout(check, 50));
		check();
	});
	assert.equal(c.status, 'stale');
	assert.ok(!log.statusNames().includes('connecting'), 'never "connecting" while the node cannot vouch');

	lab.heal(env.labHost);
	await pushd.waitHealth(200, 20000);
	await statusIs(c, 'ready', 15000);
	assert.deepEqual(log.changes.map((e) => [e.type, e.names]), [['change', ['o-1']]], 'a resume with what was missed');
	assert.deepEqual(Object.fromEntries(c.all().map((t) => [t.name, t.active])), await tableState(DB));
	c.close();
});
