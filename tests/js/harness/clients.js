// clients.js — pg-toggles clients for the tests: the library as shipped, in Node with the
// ws package, with short timers so that every deadline trips within a test's time.

import WebSocket from 'ws';
import { connect } from '../../../clients/js/src/index.js';

// Timers of the tests (milliseconds); each test that needs another passes its own.
export const FAST = Object.freeze({
	pingInterval: 300,
	readTimeout: 1000,
	connectTimeout: 800,
	backoff: { min: 100, max: 800, resetAfter: 1500 },
});

const open = new Set();

// client(url, options): a client that every test file closes at its end (closeAll).
export function client(url, options = {}) {
	const c = connect({ url, WebSocket, storage: null, ...FAST, ...options });
	open.add(c);
	return c;
}

export function closeAll() {
	for (const c of open)
		c.close();
	open.clear();
}

// MemoryStorage: the Web Storage interface over a Map, the storage a Node program passes.
export class MemoryStorage {
	#items = new Map();
	getItem(k) { return this.#items.has(k) ? this.#items.get(k) : null; }
	setItem(k, v) { this.#items.set(k, String(v)); }
	removeItem(k) { this.#items.delete(k); }
	get size() { return this.#items.size; }
}
