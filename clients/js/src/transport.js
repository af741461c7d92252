// transport.js — the wire: where the stream and /v1/toggles are, opening a WebSocket with
// the token where the runtime allows it, and asking /v1/toggles why a handshake failed.

// The WebSocket subprotocol of toggles-pushd; a browser offers the token as a second entry.
export const SUBPROTOCOL = 'pg-toggles.v1';

// streamUrl(url, location): the stream's ws:// or wss:// URL.  ws, wss, http and https are
// taken; a bare origin means /v1/stream; in a browser, url may be left out (this page's
// server) or be a path.
export function streamUrl(url, location = globalThis.location) {
	let u;
	try {
		u = new URL(url ?? '/v1/stream', location?.href);
	} catch {
		throw new TypeError(url === undefined
			? 'url is required outside a browser (e.g. ws://127.0.0.1:8080)'
			: `url ${JSON.stringify(url)} is not a URL (e.g. ws://127.0.0.1:8080)`);
	}
	const scheme = { 'ws:': 'ws:', 'wss:': 'wss:', 'http:': 'ws:', 'https:': 'wss:' }[u.protocol];
	if (!scheme)
		throw new TypeError(`url ${JSON.stringify(String(url))}: expected ws://, wss://, http:// or https://`);
	u.protocol = scheme;
	if (u.pathname === '/' || u.pathname === '')
		u.pathname = '/v1/stream';
	if (!u.pathname.endsWith('/v1/stream'))
		throw new TypeError(`url ${JSON.stringify(String(url))}: a toggles-pushd stream ends in /v1/stream (or give just the origin)`);
	u.search = '';
	u.hash = '';
	return u.toString();
}

// togglesUrl(stream): the /v1/toggles URL next to a stream URL, over HTTP.
export function togglesUrl(stream) {
	const u = new URL(stream);
	u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
	u.pathname = u.pathname.replace(/\/v1\/stream$/, '/v1/toggles');
	return u.toString();
}

// withQuery(url, params): url with each defined parameter percent-encoded.  Not
// URLSearchParams: it writes a space as "+", which the server takes as a plus sign.
export function withQuery(url, params) {
	const parts = Object.entries(params)
		.filter(([, v]) => v !== undefined && v !== null)
		.map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
	return parts.length ? `${url}?${parts.join('&')}` : url;
}

// contextParam(ctx): the context query parameter's value, or undefined for {}.
export function contextParam(ctx) {
	return Object.keys(ctx).length ? JSON.stringify(ctx) : undefined;
}

// openSocket: a WebSocket to url.  The token goes in an Authorization header where the
// constructor takes headers (the ws package in Node), else as the second subprotocol.
export function openSocket(WebSocketImpl, url, token, tokenIn) {
	if (token && tokenIn === 'header')
		return new WebSocketImpl(url, [SUBPROTOCOL], { headers: { Authorization: `Bearer ${token}` } });
	return new WebSocketImpl(url, token ? [SUBPROTOCOL, token] : [SUBPROTOCOL]);
}

// retryAfterMs(value): a Retry-After header in milliseconds (seconds or an HTTP date).
function retryAfterMs(value) {
	if (!value)
		return 0;
	if (/^\d+$/.test(value.trim()))
		return Number(value.trim()) * 1000;
	const at = Date.parse(value);
	return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now());
}

/*
 * probeRefusal: why did a handshake fail?  A browser reports a handshake refused with 401,
 * 400 or 503 only as close 1006, exactly like a network failure, so the client asks
 * /v1/toggles, which the server answers by the same rules, with the same token and context:
 *   {kind: 'refused', message}          401: the token is missing, unknown, revoked, expired
 *   {kind: 'invalid_context', message}  400
 *   {kind: 'unavailable', message, retryAfter}  503: this node cannot serve now
 *   {kind: 'serving'}                   200 or 304: a passing failure
 *   {kind: 'unreachable', message}      no answer: the network, or a cross-origin page
 *                                       the server sends no CORS headers to
 * signal aborts it: the attempt's connectTimeout covers the handshake and this question.
 */
export async function probeRefusal(fetchImpl, url, token, signal) {
	if (typeof fetchImpl !== 'function')
		return { kind: 'unreachable', message: 'no fetch in this runtime to ask why the handshake failed' };
	try {
		const res = await fetchImpl(url, {
			headers: token ? { Authorization: `Bearer ${token}` } : {},
			cache: 'no-store',
			signal,
		});
		const body = await res.text().catch(() => '');
		let message = `HTTP ${res.status}`;
		try {
			message = JSON.parse(body).message ?? message;
		} catch { /* not the server's JSON: keep the status */ }
		if (res.status === 401 || res.status === 403)
			return { kind: 'refused', status: res.status, message };
		if (res.status === 400)
			return { kind: 'invalid_context', status: 400, message };
		if (res.status === 503)
			return { kind: 'unavailable', status: 503, message, retryAfter: retryAfterMs(res.headers.get('retry-after')) };
		if (res.ok || res.status === 304)
			return { kind: 'serving', status: res.status };
		return { kind: 'unreachable', status: res.status, message };
	} catch (err) {
		return { kind: 'unreachable', message: signal?.aborted ? 'no answer in time' : String(err?.message ?? err) };
	}
}

// fetchSnapshot: GET /v1/toggles, the snapshot a server side hands to connect({bootstrap}).
export async function fetchSnapshot({ url, token, context, fetch: fetchImpl = globalThis.fetch } = {}) {
	if (typeof fetchImpl !== 'function')
		throw new TypeError('fetchSnapshot: no fetch in this runtime; pass {fetch}');
	const target = withQuery(togglesUrl(streamUrl(url)), { context: context ? contextParam(context) : undefined });
	const res = await fetchImpl(target, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
	const text = await res.text();
	if (!res.ok) {
		let message = text.trim();
		try {
			message = JSON.parse(text).message ?? message;
		} catch { /* keep the text */ }
		const err = new Error(`GET ${togglesUrl(streamUrl(url))}: ${res.status} ${message}`);
		err.status = res.status;
		throw err;
	}
	return JSON.parse(text);
}
