// liveness.test.js — a dead link is noticed within a bound: pings keep an idle connection
// vouched for; a pushd that hangs with its sockets open (SIGSTOP) makes the client stale
// within readTimeout, its new attempts time out after connectTimeout, and it comes back
// with a resume once pushd runs again.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FAST, client, closeAll } from '../harness/clients.js';
import { createDatabase, psql, tableState } from '../harness/db.js';
import { Pushd } from '../harness/pushd.js';
import { record, sleep, statusIs, waitFor } from '../harness/wait.js';

const DB = 'js_liveness';
let pushd;

before(async () => {
	await createDatabase(DB);
	await psql(DB, "INSERT INTO toggles.features (name, is_active) VALUES ('l-1', false), ('l-2', true)");
	pushd = await Pushd.start({ db: DB });
});

after(async () => {
	closeAll();
	pushd?.resume();
	await pushd?.stop();
});

test('an idle connection stays ready: pings every pingInterval are answered', async () => {
	const c = client(pushd.url);
	await statusIs(c, 'ready', 5000);
	const log = record(c);
	// Three read timeouts of silence but for the pongs.
	await sleep(3 * FAST.readTimeout);
	assert.equal(c.status, 'ready');
	assert.deepEqual(log.statuses, []);
	assert.deepEqual(log.retries, []);
	c.close();
});

test('pushd hangs (SIGSTOP): stale within readTimeout, attempts time out, a resume after SIGCONT', async (t) => {
	const c = client(pushd.url);
	await statusIs(c, 'ready', 5000);
	const log = record(c);
	const t0 = Date.now();
	pushd.pause();
	await statusIs(c, 'stale', FAST.readTimeout + 1000);
	const took = Date.now() - t0;
	t.diagnostic(`stale ${took} ms after pushd stopped (readTimeout ${FAST.readTimeout} ms, pingInterval ${FAST.pingInterval} ms)`);
	assert.ok(took <= FAST.readTimeout + 300, `stale ${took} ms after the hang (readTimeout ${FAST.readTimeout})`);
	assert.ok(took >= FAST.readTimeout - FAST.pingInterval - 300, `not before the silence lasted (${took} ms)`);
	assert.equal(c.error.code, 'timeout');
	assert.match(c.error.message, /readTimeout/);
	assert.equal(c.isEnabled('l-1', 'fallback'), false, 'the last state is still served');

	// A stopped process still has its listen queue: a connect completes and then nothing.
	await waitFor(() => log.retries.filter((r) => /connectTimeout/.test(r.reason)).length >= 2,
		4 * (FAST.connectTimeout + FAST.backoff.max), 'two attempts that timed out',
		() => JSON.stringify(log.retries));
	assert.equal(c.status, 'stale');

	await psql(DB, "UPDATE toggles.features SET is_active = true WHERE name = 'l-1'");
	pushd.resume();
	await statusIs(c, 'ready', 5000);
	assert.deepEqual(log.changes.map((e) => [e.type, e.names]), [['change', ['l-1']]]);
	assert.deepEqual(Object.fromEntries(c.all().map((t) => [t.name, t.active])), await tableState(DB));
	c.close();
});
