// transport.test.js (unit) — URLs and query parameters (clients/js/src/transport.js) and
// the options connect() refuses (clients/js/src/client.js, context.js).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { connect } from '../../../clients/js/src/index.js';
import { canonicalJson } from '../../../clients/js/src/context.js';
import { contextParam, streamUrl, togglesUrl, withQuery } from '../../../clients/js/src/transport.js';

test('stream URLs: an origin, http(s) or a full path', () => {
	assert.equal(streamUrl('ws://h:8080'), 'ws://h:8080/v1/stream');
	assert.equal(streamUrl('https://flags.example.com/'), 'wss://flags.example.com/v1/stream');
	assert.equal(streamUrl('http://h/proxy/v1/stream?x=1#y'), 'ws://h/proxy/v1/stream');
	assert.equal(togglesUrl('wss://h/proxy/v1/stream'), 'https://h/proxy/v1/toggles');
	assert.throws(() => streamUrl('ftp://h'), /expected ws:\/\/, wss:\/\/, http:\/\/ or https:\/\//);
	assert.throws(() => streamUrl('http://h/elsewhere'), /ends in \/v1\/stream/);
	assert.throws(() => streamUrl(undefined, undefined), /url is required outside a browser/);
	assert.equal(streamUrl(undefined, { href: 'https://h:9/console' }), 'wss://h:9/v1/stream', 'a page: its own server');
});

test('query parameters: percent-encoded, a space never written as +', () => {
	const ctx = { key: 'a b+c', n: 1 };
	assert.equal(withQuery('ws://h/v1/stream', { since: 5, epoch: 'e', context: contextParam(ctx) }),
		'ws://h/v1/stream?since=5&epoch=e&context=%7B%22key%22%3A%22a%20b%2Bc%22%2C%22n%22%3A1%7D');
	assert.equal(contextParam({}), undefined, 'no parameter for the empty context');
	assert.equal(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } }), '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}');
});

test('connect() refuses unusable options, naming them', () => {
	const url = 'ws://127.0.0.1:9';
	assert.throws(() => connect({ url }), /no WebSocket in this runtime: pass \{WebSocket\}/);
	assert.throws(() => connect({ url, WebSocket, token: 42 }), /token must be a non-empty string/);
	assert.throws(() => connect({ url, WebSocket, tokenIn: 'cookie' }), /tokenIn must be 'header' or 'protocol'/);
	assert.throws(() => connect({ url, WebSocket, pingInterval: 5000, readTimeout: 5000 }), /readTimeout \(5000\) must be longer than pingInterval/);
	assert.throws(() => connect({ url, WebSocket, connectTimeout: 0 }), /connectTimeout must be a number of milliseconds > 0/);
	assert.throws(() => connect({ url, WebSocket, context: 'DE' }), /context must be a plain object/);
	assert.throws(() => connect({ url, WebSocket, storage: {} }), /storage must have getItem/);
	assert.throws(() => connect({ url, WebSocket, bootstrap: { type: 'change' } }), /bootstrap must be a snapshot/);
	const c = connect({ url, WebSocket, storage: null });
	assert.throws(() => c.on('changes', () => {}), /unknown event "changes"/);
	c.close();
});
