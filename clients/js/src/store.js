// store.js — the toggles a client holds: snapshots and changes applied by the protocol's
// rules, and, for each message, the names whose result really changed.

import { canonicalJson } from './context.js';

// What a toggle's user sees; a change to version or updated_at alone is not a change.
const RESULT_FIELDS = ['active', 'variant', 'value', 'reason', 'description'];

function sameResult(a, b) {
	return RESULT_FIELDS.every((f) => canonicalJson(a[f]) === canonicalJson(b[f]));
}

// toggleOf(t): the members of a received toggle the store keeps, or null when it is not one.
function toggleOf(t) {
	if (t === null || typeof t !== 'object' || typeof t.name !== 'string')
		return null;
	const toggle = {
		name: t.name,
		active: t.active === true,
		variant: typeof t.variant === 'string' ? t.variant : null,
		reason: typeof t.reason === 'string' ? t.reason : null,
		version: Number.isInteger(t.version) ? t.version : null,
		description: typeof t.description === 'string' ? t.description : '',
		updated_at: typeof t.updated_at === 'string' ? t.updated_at : null,
	};
	if ('value' in t)
		toggle.value = t.value;
	return Object.freeze(toggle);
}

export class Store {
	toggles = new Map();
	epoch = null;
	version = null;
	context = null;		// canonical text of the context the state was evaluated for

	get empty() {
		return this.epoch === null;
	}

	// applySnapshot(m, context): replaces the state; returns the names that differ.
	applySnapshot(m, context) {
		if (typeof m?.epoch !== 'string' || !Number.isInteger(m.version) || !Array.isArray(m.toggles))
			throw new TypeError('a snapshot needs an epoch (string), a version (integer) and toggles (array)');
		const next = new Map();
		for (const t of m.toggles) {
			const toggle = toggleOf(t);
			if (toggle)
				next.set(toggle.name, toggle);
		}
		const names = new Set();
		for (const [name, t] of next) {
			const old = this.toggles.get(name);
			if (!old || !sameResult(old, t))
				names.add(name);
		}
		for (const name of this.toggles.keys()) {
			if (!next.has(name))
				names.add(name);
		}
		this.toggles = next;
		this.epoch = m.epoch;
		this.version = m.version;
		this.context = context;
		return [...names].sort();
	}

	// applyChange(m): replaces or adds each toggle, deletes each removed name; returns the
	// names that differ, or null when the change is older than the state (never backwards).
	applyChange(m) {
		if (!Number.isInteger(m?.version))
			throw new TypeError('a change needs a version (integer)');
		if (this.empty)
			throw new TypeError('a change arrived before any snapshot');
		if (m.version < this.version)
			return null;
		const names = new Set();
		for (const t of Array.isArray(m.toggles) ? m.toggles : []) {
			const toggle = toggleOf(t);
			if (!toggle)
				continue;
			const old = this.toggles.get(toggle.name);
			if (!old || !sameResult(old, toggle))
				names.add(toggle.name);
			this.toggles.set(toggle.name, toggle);
		}
		for (const name of Array.isArray(m.removed) ? m.removed : []) {
			if (this.toggles.delete(name))
				names.add(name);
		}
		this.version = m.version;
		return [...names].sort();
	}

	get(name) {
		return this.toggles.get(name);
	}

	// all(): every toggle, sorted by name.
	all() {
		return [...this.toggles.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
	}

	// saved(): what storage keeps; restore(s) takes it back.
	saved() {
		return { epoch: this.epoch, version: this.version, context: this.context, toggles: this.all() };
	}

	restore(s) {
		this.applySnapshot({ type: 'snapshot', epoch: s.epoch, version: s.version, toggles: s.toggles }, s.context);
	}
}
