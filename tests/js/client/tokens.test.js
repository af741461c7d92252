// tokens.test.js — a server that requires tokens: the token in a header (Node) or in the
// subprotocol (browsers) with its scope; revoked while connected (4003) and refused at the
// handshake (401, told apart through /v1/toggles) both end in fatal with no further
// attempt; a context the server refuses stops the client until setContext; an Origin the
// server does not allow is retried, with an error that says where to look.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { FAST, MemoryStorage, client, closeAll } from '../harness/clients.js';
import { createDatabase, psql } from '../harness/db.js';
import { Pushd } from '../harness/pushd.js';
import { record, sleep, statusIs, waitFor } from '../harness/wait.js';

const DB = 'js_tokens';
let pushd;
let token;

const names = (c) => c.all().map((t) => t.name);
// Long enough for several retries had there been any.
const QUIET = 3 * FAST.backoff.max;

before(async () => {
	await createDatabase(DB);
	await psql(DB, "INSERT INTO toggles.features (name, is_active) VALUES ('app.one', true), ('app.two', false), ('other', true)");
	token = await psql(DB, "SELECT toggles.create_token('js app', '{app.*}')");
	pushd = await Pushd.start({ db: DB, anonymous: false });
});

after(async () => {
	closeAll();
	await pushd?.stop();
});

test('the token in an Authorization header (Node) and as a subprotocol (browsers); its scope applies', async () => {
	const byHeader = client(pushd.url, { token });
	const byProtocol = client(pushd.url, { token, tokenIn: 'protocol' });
	await statusIs(byHeader, 'ready', 5000);
	await statusIs(byProtocol, 'ready', 5000);
	assert.deepEqual(names(byHeader), ['app.one', 'app.two']);
	assert.deepEqual(names(byProtocol), ['app.one', 'app.two']);
	byHeader.close();
	byProtocol.close();
});

test('token revoked while connected: fatal (4003), state kept, storage cleared, no reconnection', async () => {
	const own = await psql(DB, "SELECT toggles.create_token('to revoke', '{app.*}')");
	const storage = new MemoryStorage();
	const c = client(pushd.url, { token: own, storage });
	await statusIs(c, 'ready', 5000);
	assert.equal(storage.size, 1);
	const log = record(c);
	const refused = (await pushd.metrics()).pushd_auth_refused_total;
	await psql(DB, "SELECT toggles.revoke_token(id) FROM toggles.tokens WHERE label = 'to revoke'");
	await statusIs(c, 'fatal', 5000);
	assert.equal(c.error.code, 'unauthorized');
	assert.equal(c.error.closeCode, 4003);
	assert.equal(c.error.message, 'token revoked');
	assert.equal(storage.size, 0, 'a refused token leaves nothing to serve at the next start');
	assert.equal(c.isEnabled('app.one'), true, 'what was held is still answered');
	await assert.rejects(c.ready(), (err) => err.code === 'unauthorized');
	await sleep(QUIET);
	assert.deepEqual(log.retries, [], 'no retry scheduled');
	assert.deepEqual(log.statusNames(), ['fatal']);
	assert.equal((await pushd.metrics()).pushd_auth_refused_total, refused, 'no handshake with the revoked token');
});

test('an unknown token at the handshake: fatal after one attempt and one look at /v1/toggles', async () => {
	const refused = (await pushd.metrics()).pushd_auth_refused_total;
	const c = client(pushd.url, { token: `tgt_${'0'.repeat(64)}` });
	const log = record(c);
	await statusIs(c, 'fatal', 5000);
	assert.equal(c.error.code, 'unauthorized');
	assert.equal(c.error.httpStatus, 401);
	assert.equal(c.error.message, 'unknown token');
	await sleep(QUIET);
	assert.deepEqual(log.retries, []);
	assert.deepEqual(log.statusNames(), ['fatal'], 'never "connecting" again');
	assert.equal((await pushd.metrics()).pushd_auth_refused_total - refused, 2, 'the handshake and the look, nothing more');
});

test('no token where one is required: fatal, saying so', async () => {
	const c = client(pushd.url);
	await statusIs(c, 'fatal', 5000);
	assert.equal(c.error.message, 'a token is required');
});

test('a context the server refuses at the handshake: error, no retry, until setContext', async () => {
	const nested = (n) => (n === 0 ? 'x' : [nested(n - 1)]);
	const c = client(pushd.url, { token, context: { deep: nested(70) } });
	const log = record(c);
	await statusIs(c, 'error', 5000);
	assert.equal(c.error.code, 'invalid_context');
	assert.equal(c.error.httpStatus, 400);
	await sleep(QUIET);
	assert.deepEqual(log.retries, []);
	await c.setContext({ key: 'user-1' });
	assert.equal(c.status, 'ready');
	assert.deepEqual(names(c), ['app.one', 'app.two']);
	c.close();
});

test('an Origin not in --allowed-origins: not fatal, retried, and the error names the setting', async () => {
	const strict = await Pushd.start({ db: DB, name: 'js_tokens_origins', args: ['--allowed-origins', 'https://app.example.com'] });
	// A browser's page on another site: the ws package sends the Origin it is given.
	class ElsewhereWebSocket extends WebSocket {
		constructor(url, protocols, options = {}) {
			super(url, protocols, { ...options, origin: 'https://elsewhere.example.com' });
		}
	}
	try {
		const c = client(strict.url, { token, WebSocket: ElsewhereWebSocket });
		const log = record(c);
		await waitFor(() => log.retries.length >= 2, 5000, 'two retries');
		assert.equal(c.status, 'error');
		assert.equal(c.error.code, 'network');
		assert.match(c.error.message, /--allowed-origins/);
		assert.equal(c.error.httpStatus, 200, '/v1/toggles answered');
		assert.equal((await strict.metrics()).pushd_origins_refused_total >= 2, true);
		c.close();
	} finally {
		await strict.stop();
	}
});
