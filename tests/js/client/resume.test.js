// resume.test.js — nothing is missed across a lost server: pushd SIGKILLed and started
// again (the client resumes with a change, no snapshot), a restart with nothing written
// (the resume acknowledgement fires nothing), an offline start from storage, a bootstrap
// snapshot fetched by a server side.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fetchSnapshot } from '../../../clients/js/src/index.js';
import { MemoryStorage, client, closeAll } from '../harness/clients.js';
import { createDatabase, psql, tableState, version } from '../harness/db.js';
import { Pushd } from '../harness/pushd.js';
import { RESTARTED_MS, record, sleep, statusIs, waitFor } from '../harness/wait.js';

const DB = 'js_resume';
let pushd;

// Long enough that a restart stays "connecting" (the state was current a moment ago).
const PATIENT = { pingInterval: 1000, readTimeout: 8000 };

// nested(n): an array nested n deep, more than the server's evaluator takes.
const nested = (n) => (n === 0 ? 'x' : [nested(n - 1)]);

const held = (c) => Object.fromEntries(c.all().map((t) => [t.name, t.active]));

before(async () => {
	await createDatabase(DB);
	await psql(DB, `INSERT INTO toggles.features (name, is_active) VALUES
		('r-1', false), ('r-2', true), ('r-gone', true), ('r-3', false)`);
	pushd = await Pushd.start({ db: DB });
});

after(async () => {
	closeAll();
	await pushd?.stop();
});

test('pushd SIGKILLed and restarted: the client resumes with one change and misses nothing', async () => {
	const c = client(pushd.url, PATIENT);
	await statusIs(c, 'ready', 5000);
	const log = record(c);
	await pushd.kill9();
	await statusIs(c, 'connecting', 3000);
	await waitFor(() => log.retries.length >= 2, 5000, 'attempts while pushd is down');
	assert.ok(log.retries.every((r) => r.code === 'network'), JSON.stringify(log.retries));

	await psql(DB, `
		UPDATE toggles.features SET is_active = true WHERE name = 'r-1';
		UPDATE toggles.features SET is_active = false WHERE name = 'r-2';
		UPDATE toggles.features SET is_active = true WHERE name = 'r-2';
		DELETE FROM toggles.features WHERE name = 'r-gone';
		INSERT INTO toggles.features (name, is_active) VALUES ('r-new', true)`);
	await pushd.restart();
	await statusIs(c, 'ready', RESTARTED_MS);
	// Stale only if an attempt met the new pushd before its first load (503: it cannot vouch yet).
	const statuses = log.statusNames();
	assert.equal(statuses[0], 'connecting');
	assert.equal(statuses.at(-1), 'ready');
	assert.ok(statuses.every((s) => ['connecting', 'stale', 'ready'].includes(s)), statuses.join(' '));
	assert.equal(log.changes.length, 1, 'one change event');
	assert.equal(log.changes[0].type, 'change', 'a resume, not a snapshot');
	assert.deepEqual(log.changes[0].names, ['r-1', 'r-gone', 'r-new'], 'r-2 was written but ends as it was');
	assert.deepEqual(held(c), await tableState(DB));
	assert.equal(c.version, await version(DB));
	c.close();
});

test('a restart with nothing written: resumed, acknowledged, no change event', async () => {
	const c = client(pushd.url, PATIENT);
	await statusIs(c, 'ready', 5000);
	const log = record(c);
	const v = c.version;
	await pushd.stop();
	await statusIs(c, 'connecting', 3000);
	await pushd.restart();
	await statusIs(c, 'ready', RESTARTED_MS);
	await sleep(200);
	assert.equal(log.changes.length, 0);
	assert.equal(c.version, v);
	assert.match(log.retries[0].reason, /^closed 1001/);
	c.close();
});

test('an offline start serves the saved state, marked stale, then resumes', async () => {
	const storage = new MemoryStorage();
	const first = client(pushd.url, { ...PATIENT, storage });
	await statusIs(first, 'ready', 5000);
	const saved = held(first);
	first.close();
	assert.equal(storage.size, 1, 'the state was saved');

	await pushd.stop();
	await psql(DB, "UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'r-3'");
	const c = client(pushd.url, { ...PATIENT, storage });
	const log = record(c);
	assert.equal(c.status, 'stale', 'stale from the start');
	assert.equal(c.error.code, 'offline');
	assert.deepEqual(held(c), saved, 'the saved state is served at once');
	assert.equal(c.version, first.version);

	// A state saved for another context is not served for this one.
	const other = client(pushd.url, { ...PATIENT, storage, context: { key: 'someone-else' } });
	assert.equal(other.status, 'connecting');
	assert.deepEqual(other.all(), []);

	await pushd.restart();
	await statusIs(c, 'ready', RESTARTED_MS);
	assert.deepEqual(log.changes.map((e) => [e.type, e.names]), [['change', ['r-3']]]);
	assert.deepEqual(held(c), await tableState(DB));
	c.close();
	other.close();
});

test('bootstrap: a snapshot fetched on the server side is served at once, then resumed', async () => {
	const snapshot = await fetchSnapshot({ url: pushd.url });
	assert.equal(snapshot.type, 'snapshot');
	await psql(DB, "UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'r-1'");
	const c = client(pushd.url, { ...PATIENT, bootstrap: snapshot });
	const log = record(c);
	assert.equal(c.status, 'connecting', 'current as of the fetch: not stale');
	assert.equal(c.version, snapshot.version);
	assert.equal(c.isEnabled('r-1'), snapshot.toggles.find((t) => t.name === 'r-1').active);
	await statusIs(c, 'ready', 5000);
	assert.deepEqual(log.changes.map((e) => [e.type, e.names]), [['change', ['r-1']]]);
	assert.deepEqual(held(c), await tableState(DB));
	c.close();

	await assert.rejects(fetchSnapshot({ url: pushd.url, context: { deep: nested(70) } }),
		(err) => err.status === 400 && /invalid|nest|context/i.test(err.message), 'fetchSnapshot reports a refusal with its status');
});
