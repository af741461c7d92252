// client.js — one client of a toggles-pushd stream: its connection's life (open, resume,
// ping, read and connect deadlines, backoff, refusal), its status, and what it holds.

import { backoffDelay, checkBackoff } from './backoff.js';
import { canonicalJson, checkContext } from './context.js';
import { Emitter } from './emitter.js';
import { SavedState, defaultStorage } from './storage.js';
import { Store } from './store.js';
import { contextParam, openSocket, probeRefusal, streamUrl, togglesUrl, withQuery } from './transport.js';

export const STATUSES = Object.freeze(['connecting', 'ready', 'stale', 'error', 'fatal']);

// Defaults, in milliseconds; clients/js/README.md says why these values.
export const TIMING_DEFAULTS = Object.freeze({ pingInterval: 15000, readTimeout: 20000, connectTimeout: 10000 });

const EVENTS = new Set(['change', 'status', 'retry', 'error']);

// Close codes that mean "this token will not do": never retried.
const CLOSE_TOKEN = 4003;
// "This node cannot vouch for its state now": retried with backoff, the state marked stale.
const CLOSE_TRY_AGAIN_LATER = 1013;

// TogglesError: what went wrong, with a code a program can act on (README: "Errors").
export class TogglesError extends Error {
	constructor(code, message, detail = {}) {
		super(message);
		this.name = 'TogglesError';
		this.code = code;
		Object.assign(this, detail);
	}
}

function positiveMs(options, name) {
	const v = options[name] ?? TIMING_DEFAULTS[name];
	if (!Number.isFinite(v) || v <= 0)
		throw new TypeError(`${name} must be a number of milliseconds > 0, got ${v}`);
	return v;
}

function noop() {}

export class Client {
	#emitter = new Emitter();
	#store = new Store();
	#saved;
	#url;
	#token;
	#tokenIn;
	#WebSocket;
	#fetch;
	#context;
	#timing;
	#backoff;

	#status = 'connecting';
	#error = null;
	#conn = null;				// the connection in use: {socket, opened, ready, readyAt, context, pendingContext}
	#attempt = 0;				// failed attempts since the last long-lived connection
	#retryTimer = null;
	#connectTimer = null;
	#pingTimer = null;
	#verifyTimer = null;		// lastHeard + readTimeout: the state is no longer vouched for
	#halted = false;			// the context was refused: nothing is tried until setContext
	#closed = false;
	#pendingContext = null;		// {resolve, reject, previous, key} of setContext
	#waiters = [];				// ready() promises
	#storageFailed = false;

	constructor(options = {}) {
		if (options === null || typeof options !== 'object')
			throw new TypeError('connect(options): options must be an object');
		this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
		if (typeof this.#WebSocket !== 'function')
			throw new TypeError("no WebSocket in this runtime: pass {WebSocket} (in Node: import WebSocket from 'ws')");
		this.#url = streamUrl(options.url);
		if (options.token !== undefined && options.token !== null && (typeof options.token !== 'string' || options.token === ''))
			throw new TypeError('token must be a non-empty string (tgt_...) or left out');
		this.#token = options.token || undefined;
		this.#tokenIn = options.tokenIn ??
			(options.WebSocket && globalThis.process?.versions?.node ? 'header' : 'protocol');
		if (this.#tokenIn !== 'header' && this.#tokenIn !== 'protocol')
			throw new TypeError(`tokenIn must be 'header' or 'protocol', got ${JSON.stringify(this.#tokenIn)}`);
		this.#timing = {
			pingInterval: positiveMs(options, 'pingInterval'),
			readTimeout: positiveMs(options, 'readTimeout'),
			connectTimeout: positiveMs(options, 'connectTimeout'),
		};
		if (this.#timing.readTimeout <= this.#timing.pingInterval)
			throw new TypeError(`readTimeout (${this.#timing.readTimeout}) must be longer than pingInterval (${this.#timing.pingInterval}): the pong must have time to come back`);
		this.#backoff = checkBackoff(options.backoff);
		this.#context = checkContext(options.context);
		this.#fetch = options.fetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined);
		this.#saved = new SavedState(options.storage === undefined ? defaultStorage() : options.storage,
			this.#url, this.#token);
		this.#start(options.bootstrap);
	}

	// #start: the first state, from a server-side snapshot (current: connecting) or from
	// storage (an offline start: stale); then the first connection.
	#start(bootstrap) {
		const key = canonicalJson(this.#context);
		if (bootstrap !== undefined && bootstrap !== null) {
			if (bootstrap.type !== undefined && bootstrap.type !== 'snapshot')
				throw new TypeError(`bootstrap must be a snapshot (GET /v1/toggles), got type ${JSON.stringify(bootstrap.type)}`);
			this.#store.applySnapshot(bootstrap, key);
			this.#save();
			this.#armVerify();
		} else {
			try {
				const saved = this.#saved.load(key);
				if (saved) {
					this.#store.restore(saved);
					this.#status = 'stale';
					this.#error = new TogglesError('offline', 'serving the state saved at ' + new Date(saved.savedAt).toISOString());
				}
			} catch (err) {
				this.#reportStorage(err);
			}
			if (this.#store.empty)
				this.#armVerify();
		}
		this.#connect();
	}

	// ---- what the application reads ----------------------------------------------------

	get status() { return this.#status; }
	get error() { return this.#error; }
	get url() { return this.#url; }
	get epoch() { return this.#store.epoch; }
	get version() { return this.#store.version; }
	get context() { return this.#context; }

	isEnabled(name, fallback = false) {
		const t = this.#store.get(name);
		return t ? t.active : fallback;
	}

	variant(name) {
		return this.#store.get(name)?.variant ?? null;
	}

	value(name, fallback) {
		const t = this.#store.get(name);
		return t && 'value' in t ? t.value : fallback;
	}

	get(name) {
		return this.#store.get(name);
	}

	all() {
		return this.#store.all();
	}

	// on(event, handler): 'change', 'status', 'retry' or 'error'; returns the unsubscriber.
	on(event, handler) {
		if (!EVENTS.has(event))
			throw new TypeError(`unknown event ${JSON.stringify(event)}: expected one of ${[...EVENTS].join(', ')}`);
		return this.#emitter.on(event, handler);
	}

	off(event, handler) {
		this.#emitter.off(event, handler);
	}

	// ready(): resolves once the status is ready; rejects when it turns fatal or on close().
	ready() {
		if (this.#status === 'ready')
			return Promise.resolve(this);
		if (this.#status === 'fatal' || this.#closed)
			return Promise.reject(this.#error ?? new TogglesError('closed', 'the client was closed'));
		return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
	}

	// setContext(ctx): evaluates everything for a new context.  Resolves once the state for
	// it has arrived; rejects when the server refuses it (the old context stays).
	setContext(ctx) {
		ctx = checkContext(ctx);
		if (this.#closed || this.#status === 'fatal')
			return Promise.reject(this.#error ?? new TogglesError('closed', 'the client was closed'));
		const key = canonicalJson(ctx);
		if (key === canonicalJson(this.#context) && !this.#pendingContext)
			return Promise.resolve();
		this.#pendingContext?.reject(new TogglesError('superseded', 'a later setContext replaced this one'));
		const previous = this.#pendingContext?.previous ?? this.#context;
		this.#context = ctx;
		return new Promise((resolve, reject) => {
			this.#pendingContext = { resolve, reject, previous, key };
			const conn = this.#conn;
			if (conn?.ready) {
				conn.pendingContext = key;
				this.#send(conn, { type: 'context', context: ctx });
			} else if (conn) {
				// A handshake with the old context is under way: start again with the new one.
				this.#drop(conn);
				this.#connect();
			} else if (this.#halted) {
				this.#halted = false;
				this.#connect();
			}
			// Otherwise a retry is scheduled, or a refusal is being looked into: it takes the new context.
		});
	}

	// close(): ends the connection and every timer; no event follows.
	close() {
		if (this.#closed)
			return;
		this.#closed = true;
		if (this.#conn)
			this.#drop(this.#conn);
		this.#clearTimers();
		const err = new TogglesError('closed', 'the client was closed');
		this.#pendingContext?.reject(err);
		this.#pendingContext = null;
		for (const w of this.#waiters.splice(0))
			w.reject(err);
	}

	// ---- the connection ------------------------------------------------------------------

	#connect() {
		this.#retryTimer = null;
		if (this.#closed)
			return;
		const key = canonicalJson(this.#context);
		// Resume only a state evaluated for this context: a resume re-sends what was written
		// since, not what a new context would change.
		const resume = !this.#store.empty && this.#store.context === key;
		const url = withQuery(this.#url, {
			since: resume ? this.#store.version : undefined,
			epoch: resume ? this.#store.epoch : undefined,
			context: contextParam(this.#context),
		});
		let socket;
		try {
			socket = openSocket(this.#WebSocket, url, this.#token, this.#tokenIn);
		} catch (err) {
			// The constructor refused the URL or the subprotocol: no retry would change that.
			this.#fatal(new TogglesError('websocket', `the WebSocket could not be created: ${err?.message ?? err}`));
			return;
		}
		const conn = { socket, opened: false, ready: false, readyAt: 0, context: key, pendingContext: null, probe: null };
		this.#conn = conn;
		socket.onopen = () => { conn.opened = true; };
		socket.onmessage = (ev) => { if (this.#conn === conn) this.#receive(conn, ev.data); };
		socket.onerror = noop;	// the close event that follows says what happened
		socket.onclose = (ev) => { if (this.#conn === conn) this.#lost(conn, ev.code, ev.reason); };
		// One deadline for the attempt: the handshake, its first message, and the look at
		// /v1/toggles when the handshake failed.
		this.#connectTimer = setTimeout(() => {
			if (this.#conn === conn)
				this.#giveUp(conn, new TogglesError('timeout', `no first message within connectTimeout (${this.#timing.connectTimeout} ms)`));
			else
				conn.probe?.abort();
		}, this.#timing.connectTimeout);
	}

	// #drop: leaves a socket behind without waiting for it: a dead peer may never answer a
	// close.  keepDeadline: the attempt goes on without it (a look at /v1/toggles).
	#drop(conn, keepDeadline = false) {
		const s = conn.socket;
		s.onopen = s.onmessage = s.onclose = noop;
		s.onerror = noop;		// the ws package throws on an 'error' nobody listens to
		try {
			if (typeof s.terminate === 'function')
				s.terminate();
			else
				s.close();
		} catch { /* already closed */ }
		if (this.#conn === conn)
			this.#conn = null;
		if (!keepDeadline)
			clearTimeout(this.#connectTimer);
		clearTimeout(this.#pingTimer);
	}

	// #giveUp: the client ends a connection that stopped answering (connect or read timeout).
	#giveUp(conn, err) {
		const wasReady = conn.ready;
		const readyAt = conn.readyAt;
		this.#drop(conn);
		this.#failed({ err, stale: wasReady, wasReady, readyAt });
	}

	// #lost: the socket closed (the server, the network, or a refused handshake).
	#lost(conn, code, reason) {
		this.#drop(conn, !conn.opened);
		if (code === CLOSE_TOKEN) {
			this.#fatal(new TogglesError('unauthorized', reason || 'token refused', { closeCode: code }));
			return;
		}
		if (!conn.opened) {
			this.#lookIntoRefusal(conn);
			return;
		}
		const text = `closed ${code}${reason ? ` (${reason})` : ''}`;
		if (code === CLOSE_TRY_AGAIN_LATER)
			this.#failed({ err: new TogglesError('unavailable', text, { closeCode: code }), stale: true, wasReady: conn.ready, readyAt: conn.readyAt });
		else
			this.#failed({ err: new TogglesError('network', text, { closeCode: code }), wasReady: conn.ready, readyAt: conn.readyAt });
	}

	// #lookIntoRefusal: a handshake failed; /v1/toggles says whether it was the token.
	async #lookIntoRefusal(conn) {
		const probe = withQuery(togglesUrl(this.#url), { context: contextParam(this.#context) });
		conn.probe = new AbortController();
		const verdict = await probeRefusal(this.#fetch, probe, this.#token, conn.probe.signal);
		if (this.#closed || this.#conn || this.#retryTimer || this.#status === 'fatal')
			return;		// setContext started another attempt meanwhile
		clearTimeout(this.#connectTimer);
		if (conn.probe.signal.aborted) {
			this.#failed({ err: new TogglesError('timeout', `the handshake failed and /v1/toggles did not answer within connectTimeout (${this.#timing.connectTimeout} ms)`) });
			return;
		}
		switch (verdict.kind) {
			case 'refused':
				this.#fatal(new TogglesError('unauthorized', verdict.message, { httpStatus: verdict.status }));
				return;
			case 'invalid_context':
				this.#contextRefused(new TogglesError('invalid_context', verdict.message, { httpStatus: 400 }));
				return;
			case 'unavailable':
				this.#failed({
					err: new TogglesError('unavailable', verdict.message, { httpStatus: 503 }),
					stale: true, minDelay: verdict.retryAfter,
				});
				return;
			case 'serving':
				// The server answers HTTP but refused the upgrade: a passing failure, or an
				// Origin it does not allow (403 is not told apart from here).
				this.#failed({ err: new TogglesError('network', 'the WebSocket handshake failed, though /v1/toggles answers (a passing failure, or this origin is not in --allowed-origins)', { httpStatus: verdict.status }) });
				return;
			default:
				this.#failed({ err: new TogglesError('network', verdict.message ?? 'the handshake failed') });
		}
	}

	// #contextRefused: the server will not take the context.  A setContext under way falls
	// back to the previous one; a context given to connect() stops the client until the
	// application sets another.
	#contextRefused(err) {
		const pending = this.#pendingContext;
		if (pending) {
			this.#pendingContext = null;
			this.#context = pending.previous;
			pending.reject(err);
			this.#emitter.emit('error', err);
			this.#connect();
			return;
		}
		this.#halted = true;
		this.#setStatus('error', err);
		this.#emitter.emit('error', err);
	}

	// #failed: after any failure but a fatal one: the status, then a retry with backoff.
	#failed({ err, stale = false, minDelay = 0, wasReady = false, readyAt = 0 }) {
		if (this.#closed || this.#status === 'fatal')
			return;
		if (wasReady && Date.now() - readyAt >= this.#backoff.resetAfter)
			this.#attempt = 0;
		this.#attempt += 1;
		const delay = Math.max(backoffDelay(this.#attempt, this.#backoff), minDelay);
		let next = 'connecting';
		if (this.#store.empty)
			next = 'error';
		else if (stale || this.#status === 'stale')
			next = 'stale';
		this.#setStatus(next, err);
		if (this.#closed)
			return;		// a status handler closed the client
		this.#emitter.emit('retry', { attempt: this.#attempt, delay, code: err.code, reason: err.message });
		if (!this.#closed)
			this.#retryTimer = setTimeout(() => this.#connect(), delay);
	}

	#fatal(err) {
		if (this.#conn)
			this.#drop(this.#conn);
		this.#clearTimers();
		try {
			this.#saved.clear();		// a refused token's state must not be served at the next start
		} catch { /* storage refused: nothing was kept either */ }
		this.#setStatus('fatal', err);
		this.#pendingContext?.reject(err);
		this.#pendingContext = null;
		for (const w of this.#waiters.splice(0))
			w.reject(err);
		this.#emitter.emit('error', err);
	}

	#clearTimers() {
		for (const t of [this.#retryTimer, this.#connectTimer, this.#pingTimer, this.#verifyTimer])
			clearTimeout(t);
		this.#retryTimer = this.#connectTimer = this.#pingTimer = this.#verifyTimer = null;
	}

	// ---- messages ------------------------------------------------------------------------

	#receive(conn, data) {
		let m;
		try {
			m = JSON.parse(typeof data === 'string' ? data : String(data));
		} catch {
			this.#emitter.emit('error', new TogglesError('protocol', 'the server sent a message that is not JSON'));
			return;
		}
		let names = null;
		try {
			if (m?.type === 'snapshot') {
				const key = conn.pendingContext ?? conn.context;
				conn.context = key;
				conn.pendingContext = null;
				names = this.#store.applySnapshot(m, key);
			} else if (m?.type === 'change') {
				names = this.#store.applyChange(m);
			} else if (m?.type === 'error') {
				this.#serverError(conn, m);
			}
		} catch (err) {
			this.#emitter.emit('error', new TogglesError('protocol', `unusable ${m?.type} message: ${err.message}`));
			return;
		}
		if (m?.type === 'snapshot' || (m?.type === 'change' && names !== null)) {
			this.#save();
			this.#becomeReady(conn);
			if (this.#pendingContext && this.#store.context === this.#pendingContext.key) {
				this.#pendingContext.resolve();
				this.#pendingContext = null;
			}
			if (names.length && !this.#closed)
				this.#emitter.emit('change', { names, version: m.version, epoch: this.#store.epoch, type: m.type, ...(m.cause ? { cause: m.cause } : {}) });
		}
		if (conn.ready && this.#conn === conn && !this.#closed)
			this.#heard(conn);
	}

	#serverError(conn, m) {
		const err = new TogglesError(String(m.error ?? 'error'), String(m.message ?? 'the server reported an error'));
		if (err.code === 'invalid_context' && conn.pendingContext) {
			conn.pendingContext = null;
			const pending = this.#pendingContext;
			this.#pendingContext = null;
			this.#context = pending.previous;
			pending.reject(err);
		}
		this.#emitter.emit('error', err);
	}

	#becomeReady(conn) {
		if (conn.ready)
			return;
		conn.ready = true;
		conn.readyAt = Date.now();
		clearTimeout(this.#connectTimer);
		this.#setStatus('ready', null);
		for (const w of this.#waiters.splice(0))
			w.resolve(this);
	}

	// #heard: the server spoke on a ready connection: the state is vouched for until
	// readTimeout from now, and a ping goes out after pingInterval of silence.
	#heard(conn) {
		clearTimeout(this.#pingTimer);
		this.#pingTimer = setTimeout(() => {
			if (this.#conn === conn)
				this.#send(conn, { type: 'ping' });
		}, this.#timing.pingInterval);
		this.#armVerify();
	}

	#armVerify() {
		clearTimeout(this.#verifyTimer);
		this.#verifyTimer = setTimeout(() => this.#verifyExpired(), this.#timing.readTimeout);
	}

	// #verifyExpired: nothing vouched for the state for readTimeout.  On a ready connection
	// that means the link went silent: it is given up.
	#verifyExpired() {
		this.#verifyTimer = null;
		if (this.#closed || this.#status === 'fatal')
			return;
		const err = new TogglesError('timeout', `no word from the server for readTimeout (${this.#timing.readTimeout} ms)`);
		if (this.#conn?.ready) {
			this.#giveUp(this.#conn, err);
			return;
		}
		if (this.#status === 'connecting')
			this.#setStatus(this.#store.empty ? 'error' : 'stale', err);
	}

	#send(conn, message) {
		try {
			conn.socket.send(JSON.stringify(message));
		} catch {
			// A socket that cannot send is closing: its close event, or the read timeout, follows.
		}
	}

	#save() {
		try {
			this.#saved.save(this.#store.saved());
		} catch (err) {
			this.#reportStorage(err);
		}
	}

	#reportStorage(err) {
		if (this.#storageFailed)
			return;
		this.#storageFailed = true;		// once: a full storage would fail at every message
		this.#emitter.emit('error', new TogglesError('storage', `the saved state could not be used: ${err?.message ?? err}`));
	}

	#setStatus(status, err) {
		this.#error = err ?? null;
		if (status === this.#status)
			return;
		const previous = this.#status;
		this.#status = status;
		this.#emitter.emit('status', { status, previous, error: this.#error });
	}
}
