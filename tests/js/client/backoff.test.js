// backoff.test.js — reconnecting with exponential backoff and full jitter: each wait is
// drawn below a window that doubles from backoff.min up to backoff.max; a connection that
// stayed ready for backoff.resetAfter starts again from min, a shorter one does not.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FAST, client, closeAll } from '../harness/clients.js';
import { createDatabase, psql } from '../harness/db.js';
import { Pushd } from '../harness/pushd.js';
import { RESTARTED_MS, record, sleep, statusIs, waitFor } from '../harness/wait.js';

const DB = 'js_backoff';
const { min, max, resetAfter } = FAST.backoff;
const windowOf = (attempt) => Math.min(max, min * 2 ** (attempt - 1));
let pushd;

before(async () => {
	await createDatabase(DB);
	await psql(DB, "INSERT INTO toggles.features (name) VALUES ('b-1')");
	pushd = await Pushd.start({ db: DB });
});

after(async () => {
	closeAll();
	await pushd?.stop();
});

test('no server: waits grow from min to the max cap, each a random draw below its window', async () => {
	await pushd.stop();
	const c = client(pushd.url);
	const log = record(c);
	await waitFor(() => log.retries.length >= 10, 15000, 'ten retries');
	c.close();
	const r = log.retries.slice(0, 10);
	assert.deepEqual(r.map((x) => x.attempt), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
	for (const x of r) {
		assert.ok(x.delay >= 0 && x.delay < windowOf(x.attempt), `attempt ${x.attempt}: ${x.delay} ms below ${windowOf(x.attempt)}`);
		assert.equal(x.code, 'network');
	}
	for (let i = 1; i < r.length; i++) {
		const gap = r[i].at - r[i - 1].at;
		assert.ok(gap >= r[i - 1].delay - 5, `attempt ${r[i].attempt} came ${gap} ms after a wait of ${r[i - 1].delay}`);
	}
	// Jitter: at the cap, waits differ and are not all near the window.
	const capped = r.filter((x) => windowOf(x.attempt) === max).map((x) => x.delay);
	assert.ok(capped.length >= 6);
	assert.ok(new Set(capped).size > 1, `capped waits all equal: ${capped}`);
	assert.ok(capped.some((d) => d < 0.9 * max), `no wait well below the cap: ${capped}`);
	assert.equal(c.status, 'error', 'nothing held and nothing reached: error');
	await pushd.restart();
});

test('a connection ready for resetAfter starts again from min; a shorter one goes on doubling', async () => {
	// Failures first, so that there is a count to reset.
	await pushd.stop();
	const c = client(pushd.url);
	const log = record(c);
	await waitFor(() => log.retries.length >= 3, 5000, 'three retries');
	await pushd.restart();
	await statusIs(c, 'ready', RESTARTED_MS);
	await sleep(resetAfter + 200);
	const counted = log.retries.length;
	await pushd.kill9();
	await waitFor(() => log.retries.length >= counted + 3, 5000, 'three retries after the long connection');
	assert.equal(log.retries[counted].attempt, 1, 'reset after a connection of resetAfter');

	await pushd.restart();
	await statusIs(c, 'ready', RESTARTED_MS);
	const last = log.retries.at(-1).attempt;
	assert.ok(last >= 3);
	await pushd.kill9();
	await waitFor(() => log.retries.at(-1).attempt !== last, 5000, 'the next retry');
	assert.equal(log.retries.at(-1).attempt, last + 1, 'not reset after a short connection');
	c.close();
	await pushd.restart();
});
