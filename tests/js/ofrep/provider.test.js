// provider.test.js — OpenFeature's own Node SDK and its generic OFREP provider, from npm and
// unmodified, against a real toggles-pushd: boolean and variant flags for two contexts, a
// flip in SQL seen by the next evaluation, an unknown flag, a revoked token; and the Node
// example of docs/openfeature.md run as it is written there.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { createDatabase, psql, version } from '../harness/db.js';
import { env } from '../harness/env.js';
import { Pushd } from '../harness/pushd.js';
import { waitFor } from '../harness/wait.js';

const DB = 'js_ofrep_provider';
const here = dirname(fileURLToPath(import.meta.url));
let pushd;
let token;

// caughtUp(): pushd has applied every commit so far (its /healthz version is the database's).
async function caughtUp() {
	const want = await version(DB);
	await waitFor(async () => (await (await fetch(`${pushd.httpUrl}/healthz`)).json()).version >= want,
		5000, `pushd at version ${want}`);
}

// evaluateWith(token): the status of one raw evaluation with that token.
async function evaluateWith(own) {
	const res = await fetch(`${pushd.httpUrl}/ofrep/v1/evaluate/flags/checkout.new`,
		{ method: 'POST', headers: { Authorization: `Bearer ${own}` }, body: '{}' });
	await res.arrayBuffer();
	return res.status;
}

async function clientWith(name, headers) {
	await OpenFeature.setProviderAndWait(name, new OFREPProvider({ baseUrl: pushd.httpUrl, headers }));
	return OpenFeature.getClient(name);
}

before(async () => {
	await createDatabase(DB);
	await psql(DB, `INSERT INTO toggles.features (name, is_active) VALUES ('checkout.new', true), ('secret', true);
		INSERT INTO toggles.features (name, is_active, rules, variants) VALUES
		('checkout.beta', true, '[{"when":[{"attribute":"key","op":"in","value":["alice"]}],"serve":true}]', '{}'),
		('banner', true, '[{"when":[{"attribute":"country","op":"equals","value":"DE"}],"serve":{"variant":"blue"}},
			{"serve":{"variant":"red"}}]', '{"blue":"#00f","red":"#f00"}')`);
	token = await psql(DB, "SELECT toggles.create_token('ofrep node', '{checkout.*,banner}')");
	pushd = await Pushd.start({ db: DB, anonymous: false });
});

after(async () => {
	await OpenFeature.close();
	await pushd?.stop();
});

test('boolean and variant flags for two contexts, with their reasons', async () => {
	const client = await clientWith('two-contexts', [['Authorization', `Bearer ${token}`]]);
	const alice = { targetingKey: 'alice', country: 'DE' };
	const bob = { targetingKey: 'bob', country: 'FR' };

	let d = await client.getBooleanDetails('checkout.beta', false, alice);
	assert.deepEqual([d.value, d.reason, d.errorCode], [true, 'TARGETING_MATCH', undefined], 'targetingKey is the rules\' key');
	d = await client.getBooleanDetails('checkout.beta', true, bob);
	assert.deepEqual([d.value, d.reason], [false, 'DEFAULT']);
	d = await client.getBooleanDetails('checkout.new', false, bob);
	assert.deepEqual([d.value, d.reason], [true, 'STATIC']);
	d = await client.getStringDetails('banner', 'grey', alice);
	assert.deepEqual([d.value, d.variant, d.reason], ['#00f', 'blue', 'TARGETING_MATCH']);
	assert.equal(d.flagMetadata.rule, 0);
	d = await client.getStringDetails('banner', 'grey', bob);
	assert.deepEqual([d.value, d.variant, d.reason], ['#f00', 'red', 'TARGETING_MATCH']);
	assert.equal(d.flagMetadata.rule, 1);
});

test('the token as X-API-Key works as well', async () => {
	const client = await clientWith('api-key', [['X-API-Key', token]]);
	assert.equal(await client.getBooleanValue('checkout.new', false, { targetingKey: 'x' }), true);
});

test('a flip in SQL is seen by the next evaluation', async () => {
	const client = await clientWith('flip', [['Authorization', `Bearer ${token}`]]);
	assert.equal(await client.getBooleanValue('checkout.new', false, { targetingKey: 'x' }), true);
	await psql(DB, "UPDATE toggles.features SET is_active = false WHERE name = 'checkout.new'");
	await caughtUp();
	const d = await client.getBooleanDetails('checkout.new', true, { targetingKey: 'x' });
	assert.deepEqual([d.value, d.reason], [false, 'DISABLED']);
	await psql(DB, "UPDATE toggles.features SET is_active = true WHERE name = 'checkout.new'");
	await caughtUp();
	assert.equal(await client.getBooleanValue('checkout.new', false, { targetingKey: 'x' }), true);
});

test('an unknown flag: FLAG_NOT_FOUND and the default; one outside the scope: an error and the default', async () => {
	const client = await clientWith('unknown', [['Authorization', `Bearer ${token}`]]);
	let d = await client.getBooleanDetails('checkout.nope', true, { targetingKey: 'x' });
	assert.deepEqual([d.value, d.errorCode, d.reason], [true, 'FLAG_NOT_FOUND', 'ERROR']);
	d = await client.getBooleanDetails('secret', false, { targetingKey: 'x' });
	assert.equal(d.value, false, 'the default, never the hidden toggle\'s value');
	assert.equal(d.reason, 'ERROR');
	assert.ok(d.errorCode, 'with an error code');
});

test('a revoked token: the default with an error code', async () => {
	const own = await psql(DB, "SELECT toggles.create_token('to revoke', '{checkout.*}')");
	// A new token reaches pushd with the next notification, a few milliseconds later.
	await waitFor(async () => (await evaluateWith(own)) === 200, 5000, 'pushd to know the new token');
	const client = await clientWith('revoked', [['Authorization', `Bearer ${own}`]]);
	assert.equal(await client.getBooleanValue('checkout.new', false, { targetingKey: 'x' }), true);
	await psql(DB, "SELECT toggles.revoke_token(id) FROM toggles.tokens WHERE label = 'to revoke'");
	await caughtUp();
	await waitFor(async () => (await evaluateWith(own)) === 401, 5000, 'pushd to refuse the revoked token');
	const d = await client.getBooleanDetails('checkout.new', false, { targetingKey: 'x' });
	assert.equal(d.value, false);
	assert.equal(d.reason, 'ERROR');
	assert.ok(d.errorCode, `an error code (${d.errorCode}: ${d.errorMessage})`);
});

test('the Node example of docs/openfeature.md runs as written', async () => {
	const md = readFileSync(join(env.docs, 'openfeature.md'), 'utf8');
	const block = /<!-- run: node[^>]*-->\s*```js\n([\s\S]*?)```/.exec(md);
	assert.ok(block, 'docs/openfeature.md has a block marked <!-- run: node -->');
	// Next to this file, so that it imports the packages of tests/js/node_modules.
	const file = join(here, 'doc-example.generated.mjs');
	writeFileSync(file, block[1]);
	const { stdout } = await promisify(execFile)(process.execPath, [file], {
		timeout: 30000, env: { ...process.env, PUSHD_URL: pushd.httpUrl, TOGGLES_TOKEN: token },
	});
	assert.deepEqual(JSON.parse(stdout.trim().split('\n').pop()), { on: true, colour: '#00f' });
});
