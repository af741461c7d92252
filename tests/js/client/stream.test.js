// stream.test.js — the stream as the library applies it: the snapshot, 100 flips in order,
// a transaction of three toggles as one change event, variants and values, setContext.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { client, closeAll } from '../harness/clients.js';
import { createDatabase, psql, psqlScript, tableState, version } from '../harness/db.js';
import { Pushd } from '../harness/pushd.js';
import { record, sleep, statusIs, waitFor } from '../harness/wait.js';

const DB = 'js_stream';
let pushd;

before(async () => {
	await createDatabase(DB);
	await psql(DB, `
		INSERT INTO toggles.features (name, is_active, description) VALUES
			('dark-mode', true, 'Dark theme'), ('beta-banner', false, 'Beta banner'),
			('flip', false, ''), ('tx-a', false, ''), ('tx-b', false, ''), ('tx-c', false, '');
		INSERT INTO toggles.features (name, is_active, variants, rules) VALUES
			('button-colour', true, '{"blue": "#00f", "red": {"hex": "#f00"}}',
			 '[{"when": [{"attribute": "country", "op": "equals", "value": "DE"}], "serve": {"variant": "red"}},
			   {"serve": {"variant": "blue"}}]')`);
	pushd = await Pushd.start({ db: DB });
});

after(async () => {
	closeAll();
	await pushd?.stop();
});

test('snapshot: the client holds the table, ready, with one change event', async () => {
	const c = client(pushd.url);
	const log = record(c);
	assert.equal(c.status, 'connecting');
	assert.equal(c.isEnabled('dark-mode', 'fallback'), 'fallback', 'nothing is known before the snapshot');
	await statusIs(c, 'ready', 5000);
	const held = Object.fromEntries(c.all().map((t) => [t.name, t.active]));
	assert.deepEqual(held, await tableState(DB));
	assert.equal(c.isEnabled('dark-mode'), true);
	assert.equal(c.isEnabled('beta-banner', true), false);
	assert.equal(c.isEnabled('no-such-toggle', true), true, 'an unknown toggle is the fallback');
	assert.equal(c.get('dark-mode').description, 'Dark theme');
	assert.equal(c.get('dark-mode').reason, 'DEFAULT');
	assert.equal(c.version, await version(DB));
	assert.match(c.epoch, /^\d+-\d+-[0-9a-f]{32}$/);
	assert.deepEqual(log.statusNames(), ['ready']);
	assert.equal(log.changes.length, 1);
	assert.equal(log.changes[0].type, 'snapshot');
	assert.deepEqual(log.changes[0].names, c.all().map((t) => t.name));
	c.close();
});

test('100 flips arrive as 100 change events, in commit order', async () => {
	const c = client(pushd.url);
	await statusIs(c, 'ready', 5000);
	const seen = [];
	c.on('change', (e) => seen.push({ names: e.names, version: e.version, type: e.type, on: c.isEnabled('flip') }));
	await psqlScript(DB, "UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'flip';\n".repeat(100));
	const last = await version(DB);
	await waitFor(() => c.version === last, 10000, `version ${last}`, () => `version ${c.version}, ${seen.length} events`);
	assert.equal(seen.length, 100);
	for (let i = 0; i < seen.length; i++) {
		assert.deepEqual(seen[i].names, ['flip'], `event ${i}`);
		assert.equal(seen[i].type, 'change');
		assert.equal(seen[i].on, i % 2 === 0, `event ${i}: flip is ${i % 2 === 0 ? 'on' : 'off'}`);
		if (i > 0)
			assert.ok(seen[i].version > seen[i - 1].version, `event ${i}: version ${seen[i].version} after ${seen[i - 1].version}`);
	}
	assert.equal(c.isEnabled('flip'), false);
	c.close();
});

test('a transaction of three toggles is one change event naming all three', async () => {
	const c = client(pushd.url);
	await statusIs(c, 'ready', 5000);
	const log = record(c);
	await psql(DB, `BEGIN;
		UPDATE toggles.features SET is_active = true WHERE name = 'tx-a';
		UPDATE toggles.features SET is_active = true WHERE name = 'tx-b';
		UPDATE toggles.features SET is_active = true, description = 'three' WHERE name = 'tx-c';
		COMMIT;`);
	await waitFor(() => log.changes.length >= 1, 5000, 'the change event');
	await sleep(300);
	assert.equal(log.changes.length, 1, 'one event');
	assert.deepEqual(log.changes[0].names, ['tx-a', 'tx-b', 'tx-c']);
	assert.ok(['tx-a', 'tx-b', 'tx-c'].every((n) => c.isEnabled(n)), 'all three on when the event fires');
	assert.equal(c.get('tx-c').description, 'three');

	// A write that leaves the result alone fires nothing: the server sends nothing, and a
	// toggle re-sent unchanged is no change either.
	await psql(DB, "UPDATE toggles.features SET updated_by = 'nobody' WHERE name = 'tx-a'");
	await psql(DB, "UPDATE toggles.features SET is_active = false WHERE name = 'tx-b'");
	await waitFor(() => log.changes.length >= 2, 5000, 'the second event');
	await sleep(300);
	assert.deepEqual(log.changes.map((e) => e.names), [['tx-a', 'tx-b', 'tx-c'], ['tx-b']]);
	c.close();
});

test('variants and values, and setContext re-evaluates everything', async () => {
	const c = client(pushd.url);
	await statusIs(c, 'ready', 5000);
	assert.equal(c.variant('button-colour'), 'blue');
	assert.equal(c.value('button-colour', 'none'), '#00f');
	assert.equal(c.value('dark-mode', 'none'), 'none', 'a toggle without a variant has no value');
	assert.equal(c.variant('dark-mode'), null);
	const log = record(c);
	await c.setContext({ country: 'DE', key: 'user-1' });
	assert.equal(c.variant('button-colour'), 'red');
	assert.deepEqual(c.value('button-colour'), { hex: '#f00' });
	assert.equal(c.get('button-colour').reason, 'TARGETING_MATCH');
	assert.deepEqual(log.changes.map((e) => [e.type, e.names]), [['snapshot', ['button-colour']]]);
	assert.deepEqual(c.context, { country: 'DE', key: 'user-1' });

	// The same context again asks nothing of the server.
	await c.setContext({ key: 'user-1', country: 'DE' });
	assert.equal(log.changes.length, 1);

	// Refused by the server (nesting deeper than it takes): the old context stays.
	const nested = (n) => (n === 0 ? 'x' : [nested(n - 1)]);
	await assert.rejects(c.setContext({ deep: nested(70) }), (err) => err.code === 'invalid_context');
	assert.deepEqual(c.context, { country: 'DE', key: 'user-1' });
	assert.equal(c.status, 'ready');
	assert.equal(c.variant('button-colour'), 'red');
	assert.equal(log.errors.length, 1);

	// Refused here, before anything is sent: not an object, too big.
	assert.throws(() => c.setContext(['DE']), /plain object/);
	assert.throws(() => c.setContext({ big: 'x'.repeat(5000) }), /at most 4096/);
	c.close();
});
