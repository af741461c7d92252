// storage.js — the last good state kept in a Storage (localStorage in browsers), so that a
// client started offline serves it, marked stale.

const FORMAT = 1;

// tokenTag(token): a short FNV-1a hash of the token, so that states of different tokens
// (scopes) live under different keys without the token itself being written down.
function tokenTag(token) {
	if (!token)
		return 'anonymous';
	let h = 0x811c9dc5;
	for (let i = 0; i < token.length; i++) {
		h ^= token.charCodeAt(i);
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	return h.toString(16).padStart(8, '0');
}

// defaultStorage(): localStorage where there is one and it may be used, else null.
export function defaultStorage() {
	try {
		const s = globalThis.localStorage;
		return s && typeof s.getItem === 'function' ? s : null;
	} catch {
		return null;	// a browser that forbids storage throws on the mere access
	}
}

export class SavedState {
	#storage;
	#key;

	// storage: an object with getItem, setItem and removeItem (the Web Storage interface),
	// or null for none.
	constructor(storage, streamUrl, token) {
		if (storage !== null && (typeof storage?.getItem !== 'function' ||
			typeof storage.setItem !== 'function' || typeof storage.removeItem !== 'function'))
			throw new TypeError('storage must have getItem, setItem and removeItem (like localStorage), or be null');
		this.#storage = storage;
		this.#key = `pg-toggles:${streamUrl}:${tokenTag(token)}`;
	}

	get key() {
		return this.#key;
	}

	// load(context): the saved state if it was evaluated for this context, else null.
	// Errors (storage refused, unreadable text) are thrown for the caller to report.
	load(context) {
		if (!this.#storage)
			return null;
		const text = this.#storage.getItem(this.#key);
		if (text === null)
			return null;
		const s = JSON.parse(text);
		if (s?.format !== FORMAT || s.context !== context || typeof s.epoch !== 'string' ||
			!Number.isInteger(s.version) || !Array.isArray(s.toggles))
			return null;
		return s;
	}

	save(state) {
		this.#storage?.setItem(this.#key, JSON.stringify({ format: FORMAT, savedAt: Date.now(), ...state }));
	}

	clear() {
		this.#storage?.removeItem(this.#key);
	}
}
