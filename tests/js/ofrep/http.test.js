// http.test.js — OFREP's answers as raw HTTP, each with its status, headers and body:
// unknown flag, bad JSON, a context too large, no token, a flag outside the scope, 304 for
// an unchanged bulk answer and 200 after a flip, CORS (preflight, refused origin, exposed
// ETag), bodies over the limit or chunked, 429 with Retry-After, and the counters.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { createDatabase, psql, version } from '../harness/db.js';
import { Pushd } from '../harness/pushd.js';
import { waitFor } from '../harness/wait.js';

const DB = 'js_ofrep_http';
const PAGE = 'http://app.example:3000';
let pushd;
let token;

const flags = (path = '') => `${pushd.httpUrl}/ofrep/v1/evaluate/flags${path}`;

// post(path, body, headers): {status, headers, body (parsed JSON or text)}.
async function post(path, body, headers = {}) {
	const res = await fetch(flags(path), {
		method: 'POST',
		headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
		body: typeof body === 'string' ? body : JSON.stringify(body),
	});
	const text = await res.text();
	let parsed = text;
	try {
		parsed = JSON.parse(text);
	} catch { /* not JSON */ }
	return { status: res.status, headers: res.headers, body: parsed };
}

// raw(text, ms): what pushd answers to a request written byte for byte (status line and
// all), read until pushd closes or, for a stream, for ms milliseconds.
function raw(text, ms = 5000) {
	return new Promise((resolve, reject) => {
		const sock = connect(pushd.port, '127.0.0.1');
		let got = '';
		sock.on('data', (d) => { got += d; });
		sock.on('end', () => resolve(got));
		sock.on('close', () => resolve(got));
		sock.on('error', reject);
		if (ms < 5000)
			setTimeout(() => { sock.destroy(); resolve(got); }, ms + 300);
		sock.setTimeout(5000, () => sock.destroy());
		sock.write(text);
	});
}

before(async () => {
	await createDatabase(DB);
	await psql(DB, `INSERT INTO toggles.features (name, is_active) VALUES ('app.one', true), ('app.two', false), ('secret', true)`);
	token = await psql(DB, "SELECT toggles.create_token('ofrep http', '{app.*}')");
	pushd = await Pushd.start({
		db: DB, anonymous: false,
		args: ['--allowed-origins', PAGE, '--trusted-proxies', '127.0.0.1', '--max-connections-per-ip', '1',
			'--handshake-timeout', '2'],
	});
});

after(async () => {
	await pushd?.stop();
});

// The daemon under test is the sanitized one when tests/t/062 is given it.
const sanitized = Boolean(process.env.TOGGLES_OFREP_ASAN);

test('one flag: 200 with key, value, reason, metadata and an ETag', async () => {
	const r = await post('/app.one', { context: { targetingKey: 'u1' } });
	assert.equal(r.status, 200);
	assert.deepEqual(r.body, { key: 'app.one', value: true, reason: 'STATIC', metadata: { version: 1 } });
	// "EPOCH-VERSION-HASH": the state it was computed from, and a hash of the answer.
	assert.match(r.headers.get('etag'), /^"\d+-\d+-[0-9a-f]+-\d+-[0-9a-f]{16}"$/);
	assert.match(r.headers.get('content-type'), /^application\/json/);
});

test('unknown flag: 404 FLAG_NOT_FOUND', async () => {
	const r = await post('/app.nope', {});
	assert.equal(r.status, 404);
	assert.deepEqual(r.body, { key: 'app.nope', errorCode: 'FLAG_NOT_FOUND', errorDetails: 'no toggle is named app.nope' });
});

test('bad JSON: 400 PARSE_ERROR; a context that is not an object: 400 INVALID_CONTEXT', async () => {
	let r = await post('/app.one', '{"context": {');
	assert.equal(r.status, 400);
	assert.equal(r.body.key, 'app.one');
	assert.equal(r.body.errorCode, 'PARSE_ERROR');
	assert.ok(r.body.errorDetails.length > 0);
	r = await post('', '[1, 2]');
	assert.equal(r.status, 400);
	assert.equal(r.body.errorCode, 'PARSE_ERROR');
	assert.equal(r.body.key, undefined, 'the bulk error names no key');
	r = await post('/app.one', { context: 'u1' });
	assert.deepEqual([r.status, r.body.errorCode, r.body.errorDetails], [400, 'INVALID_CONTEXT', '"context" must be an object']);
});

test('a context too large: 400 INVALID_CONTEXT; a body over 16 KiB: 413, unread', async () => {
	let r = await post('/app.one', { context: { targetingKey: 'u1', blob: 'x'.repeat(5000) } });
	assert.deepEqual([r.status, r.body.errorCode, r.body.errorDetails],
		[400, 'INVALID_CONTEXT', 'the context is larger than 4096 bytes']);
	r = await post('/app.one', { context: { blob: 'x'.repeat(20000) } });
	assert.equal(r.status, 413);
	assert.deepEqual(r.body, { key: 'app.one', errorCode: 'PARSE_ERROR', errorDetails: 'the request body is larger than 16384 bytes' });
});

test('a chunked body: 411; bytes past Content-Length are a next request, refused', async () => {
	let text = await raw(`POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
		'Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n');
	assert.match(text, /^HTTP\/1\.1 411 /);
	assert.match(text, /"errorDetails":"send the body with a Content-Length, not chunked"/);
	text = await raw(`POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
		'Content-Length: 2\r\n\r\n{}garbage that is not another request');
	assert.match(text, /^HTTP\/1\.1 200 /, 'the declared body is answered');
	const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
	assert.equal(statuses.length, 2, text);
	assert.match(statuses[1], /^4\d\d$/, 'the garbage after it is refused as a request, not evaluated');
});

test('a slow body is cut off at --handshake-timeout', async () => {
	const t0 = Date.now();
	const text = await raw(`POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
		'Content-Length: 100\r\n\r\n{"cont');
	const took = Date.now() - t0;
	assert.equal(text, '', 'nothing is answered for a body that never ends');
	assert.ok(took >= 1500 && took < 4500, `closed after ${took} ms (timeout 2 s)`);
});

test('no token: 401 with WWW-Authenticate; unknown token: 401; both as JSON', async () => {
	let r = await post('/app.one', {}, { Authorization: '' });
	assert.equal(r.status, 401);
	assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="toggles"');
	assert.deepEqual(r.body, { errorDetails: 'a token is required' });
	r = await post('/app.one', {}, { Authorization: '', 'X-API-Key': `tgt_${'0'.repeat(64)}` });
	assert.deepEqual([r.status, r.body.errorDetails], [401, 'unknown token']);
});

test('a flag outside the scope: 403 whether it exists or not; the bulk answer leaves it out', async () => {
	for (const key of ['secret', 'not-there']) {
		const r = await post(`/${key}`, {});
		assert.deepEqual([r.status, r.body], [403, { errorDetails: 'the token\'s scope does not cover this flag' }]);
	}
	const r = await post('', {});
	assert.deepEqual(r.body.flags.map((f) => f.key), ['app.one', 'app.two']);
});

test('bulk: If-None-Match → 304 while nothing changed for the caller, 200 with a new ETag after a flip', async () => {
	const first = await post('', { context: { targetingKey: 'u1' } });
	assert.equal(first.status, 200);
	const etag = first.headers.get('etag');
	assert.deepEqual(first.body.flags, [
		{ key: 'app.one', value: true, reason: 'STATIC', metadata: { version: 1 } },
		{ key: 'app.two', value: false, reason: 'DISABLED', metadata: { version: 1 } },
	]);
	let r = await post('', { context: { targetingKey: 'u1' } }, { 'If-None-Match': etag });
	assert.deepEqual([r.status, r.body, r.headers.get('etag')], [304, '', etag]);

	// A commit outside the scope changes nothing this caller sees: still 304.
	await psql(DB, "UPDATE toggles.features SET is_active = false WHERE name = 'secret'");
	const want = await version(DB);
	await waitFor(async () => (await (await fetch(`${pushd.httpUrl}/healthz`)).json()).version >= want, 5000, 'pushd to catch up');
	r = await post('', { context: { targetingKey: 'u1' } }, { 'If-None-Match': etag });
	assert.equal(r.status, 304);

	await psql(DB, "UPDATE toggles.features SET is_active = true WHERE name = 'app.two'");
	await waitFor(async () => (await post('', {}, { 'If-None-Match': etag })).status === 200, 5000, 'a 200 after the flip');
	r = await post('', { context: { targetingKey: 'u1' } }, { 'If-None-Match': etag });
	assert.equal(r.status, 200);
	assert.notEqual(r.headers.get('etag'), etag);
	assert.equal(r.body.flags[1].value, true);
});

test('bulk: eventStreams names a ticket URL (never the token); the stream it opens, and a bad ticket\'s 401', async () => {
	const r = await post('', { context: { targetingKey: 'u1' } });
	const [stream] = r.body.eventStreams;
	assert.equal(stream.type, 'sse');
	assert.equal(stream.inactivityDelaySec, 120);
	assert.match(stream.endpoint.requestUri, /^\/ofrep\/v1\/events\?ticket=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
	assert.ok(!stream.endpoint.requestUri.includes(token));
	assert.equal((await post('', { context: { targetingKey: 'u1' } })).body.eventStreams[0].endpoint.requestUri,
		stream.endpoint.requestUri, 'the same caller and context keep their URL');
	assert.notEqual((await post('', { context: { targetingKey: 'u2' } })).body.eventStreams[0].endpoint.requestUri,
		stream.endpoint.requestUri, 'another context, another ticket');
	const text = await raw(`GET ${stream.endpoint.requestUri} HTTP/1.1\r\nHost: x\r\n\r\n`, 200);
	assert.match(text, /^HTTP\/1\.1 200 /);
	assert.match(text, /content-type: text\/event-stream/);
	let res = await fetch(`${pushd.httpUrl}/ofrep/v1/events?ticket=${'A'.repeat(32)}`);
	assert.equal(res.status, 401);
	assert.match((await res.json()).message, /unknown or expired stream ticket/);
	res = await fetch(`${pushd.httpUrl}/ofrep/v1/events`);
	assert.equal(res.status, 401);
	// One character changed in what the ticket says (the context's first byte): refused.
	const [, payload, mac] = /ticket=([^.]+)\.(.+)$/.exec(stream.endpoint.requestUri);
	const tampered = `${payload.slice(0, 30)}${payload[30] === 'A' ? 'B' : 'A'}${payload.slice(31)}.${mac}`;
	res = await fetch(`${pushd.httpUrl}/ofrep/v1/events?ticket=${tampered}`);
	assert.equal(res.status, 401);
	assert.match((await res.json()).message, /unknown or expired stream ticket/);
});

test('a ticket is good on every node: another pushd of the same database streams it, and tells it of a flip', async () => {
	const r = await post('', { context: { targetingKey: 'u4' } });
	const uri = r.body.eventStreams[0].endpoint.requestUri;
	const other = await Pushd.start({ db: DB, name: 'other-node', anonymous: false });
	try {
		assert.equal((await (await fetch(`${other.httpUrl}/ofrep/v1/evaluate/flags`, {
			method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
			body: JSON.stringify({ context: { targetingKey: 'u4' } }),
		})).json()).eventStreams[0].endpoint.requestUri, uri, 'both nodes name the same URL for the same caller');
		let text = '';
		const sock = connect(other.port, '127.0.0.1', () => sock.write(`GET ${uri} HTTP/1.1\r\nHost: x\r\n\r\n`));
		sock.on('data', (d) => { text += d; });
		sock.on('error', () => {});
		try {
			await waitFor(() => /^HTTP\/1\.1 200 [^]*retry: 1000\n\n/.test(text), 5000, 'the stream on the other node', () => text);
			await psql(DB, "UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'app.one'");
			await waitFor(() => text.includes('"type":"refetchEvaluation"'), 5000, 'a refetchEvaluation', () => text);
			// Its etag is the ETag the bulk answer now has: the state the refetch must not go back from.
			const note = JSON.parse(/data: (\{"type":"refetchEvaluation".*)\n/.exec(text)[1]);
			const now = await fetch(`${other.httpUrl}/ofrep/v1/evaluate/flags`, {
				method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
				body: JSON.stringify({ context: { targetingKey: 'u4' } }),
			});
			assert.match(note.etag, /^"\d+-\d+-[0-9a-f]+-\d+-[0-9a-f]{16}"$/);
			assert.equal(note.etag, now.headers.get('etag'));
		} finally {
			sock.destroy();
			await psql(DB, "UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'app.one'");
		}
		// A node that takes no anonymous callers refuses an anonymous caller's ticket.
		const open = await Pushd.start({ db: DB, name: 'anonymous-node', anonymous: true });
		try {
			const anon = await (await fetch(`${open.httpUrl}/ofrep/v1/evaluate/flags`, {
				method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"context":{"targetingKey":"u5"}}',
			})).json();
			const res = await fetch(`${other.httpUrl}${anon.eventStreams[0].endpoint.requestUri}`);
			assert.equal(res.status, 401);
			assert.match((await res.json()).message, /a token is required/);
		} finally {
			await open.stop();
		}
	} finally {
		await other.stop();
	}
});

test('an event stream is a row of toggles.connections with transport ofrep-events', async () => {
	const r = await post('', { context: { targetingKey: 'u3' } });
	const sock = connect(pushd.port, '127.0.0.1', () =>
		sock.write(`GET ${r.body.eventStreams[0].endpoint.requestUri} HTTP/1.1\r\nHost: x\r\n\r\n`));
	sock.on('error', () => {});
	let seen;
	const rows = async () => (seen = await psql(DB,
		"SELECT string_agg(transport, ',') FROM toggles.connections WHERE context::text LIKE '%u3%'"));
	try {
		await waitFor(async () => (await rows()) === 'ofrep-events', 10000, 'the stream\'s row', () => seen);
	} finally {
		sock.destroy();
	}
});

test('CORS: preflight for an allowed origin, 403 for another, and the answer exposes its ETag', async () => {
	let res = await fetch(flags('/app.one'), {
		method: 'OPTIONS',
		headers: { Origin: PAGE, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
	});
	assert.equal(res.status, 204);
	assert.equal(res.headers.get('access-control-allow-origin'), PAGE);
	assert.match(res.headers.get('access-control-allow-methods'), /\bPOST\b/);
	assert.match(res.headers.get('access-control-allow-headers'), /Authorization/);
	assert.match(res.headers.get('access-control-allow-headers'), /X-API-Key/);
	assert.equal(res.headers.get('access-control-allow-credentials'), null);

	res = await fetch(flags(''), { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
	assert.equal(res.status, 403);
	assert.equal(res.headers.get('access-control-allow-origin'), null);

	let r = await post('', {}, { Origin: PAGE });
	assert.equal(r.status, 200);
	assert.equal(r.headers.get('access-control-allow-origin'), PAGE);
	assert.match(r.headers.get('access-control-expose-headers'), /ETag/);
	r = await post('', {}, { Origin: 'http://evil.example' });
	assert.equal(r.status, 403);
	assert.equal(r.headers.get('access-control-allow-origin'), null);
	// An error a page on an allowed origin must be able to read carries the headers too.
	r = await post('/app.nope', {}, { Origin: PAGE });
	assert.deepEqual([r.status, r.headers.get('access-control-allow-origin')], [404, PAGE]);
});

test('GET is not an evaluation: 405; other /ofrep paths: 404', async () => {
	let res = await fetch(flags('/app.one'), { headers: { Authorization: `Bearer ${token}` } });
	assert.equal(res.status, 405);
	assert.deepEqual(await res.json(), { errorDetails: 'OFREP evaluations are POSTed' });
	res = await fetch(`${pushd.httpUrl}/ofrep/v1/other`, { method: 'POST', body: '{}' });
	assert.equal(res.status, 404);
});

test('over the per-address limit behind a trusted proxy: 429 with Retry-After', async () => {
	// One connection holds the address's only slot; the next request from it is refused.
	const held = connect(pushd.port, '127.0.0.1');
	await new Promise((resolve) => held.once('connect', resolve));
	held.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n');
	await new Promise((resolve) => held.once('data', resolve));
	const r = await post('/app.one', {}, { 'X-Forwarded-For': '203.0.113.9' });
	held.destroy();
	assert.equal(r.status, 429);
	assert.equal(r.headers.get('retry-after'), '1');
});

test('the counters count', async () => {
	const m = await pushd.metrics();
	assert.ok(m['pushd_ofrep_requests_total{kind="single"}'] >= 3);
	assert.ok(m['pushd_ofrep_requests_total{kind="bulk"}'] >= 5);
	assert.ok(m.pushd_ofrep_not_modified_total >= 2);
	assert.ok(m.pushd_ofrep_client_errors_total >= 8);
	assert.ok(m.pushd_ofrep_preflights_total >= 2);
});

test('the daemon stops cleanly after all of it (under ASan: no report, no leak)', async () => {
	await pushd.stop();
	const status = await pushd.exited;
	const log = pushd.logText();
	assert.doesNotMatch(log, /(AddressSanitizer|LeakSanitizer|runtime error:)/, log.slice(-3000));
	assert.equal(status, 0, `exit status ${status}${sanitized ? ' (sanitized daemon)' : ''}`);
});
