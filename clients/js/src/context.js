// context.js — the targeting context a client sends: checked before it leaves, and a
// canonical text to tell whether a held state was evaluated for the same context.

// The server's limit on a context's JSON text (docs/protocol.md, "The context").
export const CONTEXT_MAX_BYTES = 4096;

// checkContext(ctx): ctx (undefined means {}), or a TypeError saying what is wrong.  Deeper
// checks (nesting, the evaluator's rules) are the server's; it answers invalid_context.
export function checkContext(ctx) {
	if (ctx === undefined || ctx === null)
		return {};
	if (typeof ctx !== 'object' || Array.isArray(ctx))
		throw new TypeError(`context must be a plain object, got ${Array.isArray(ctx) ? 'an array' : typeof ctx}`);
	const text = JSON.stringify(ctx);
	const bytes = new TextEncoder().encode(text).length;
	if (bytes > CONTEXT_MAX_BYTES)
		throw new TypeError(`context is ${bytes} bytes of JSON; the server takes at most ${CONTEXT_MAX_BYTES}`);
	return ctx;
}

// canonicalJson(value): JSON with object members sorted by name at every depth, so that
// equal contexts (in any member order) give equal texts.
export function canonicalJson(value) {
	if (Array.isArray(value))
		return `[${value.map(canonicalJson).join(',')}]`;
	if (value !== null && typeof value === 'object')
		return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
	return JSON.stringify(value) ?? 'null';
}
