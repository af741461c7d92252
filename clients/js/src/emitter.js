// emitter.js — the client's events: handlers by name, called in the order they were added.

export class Emitter {
	#handlers = new Map();

	// on(name, handler): adds a handler; returns the function that removes it.
	on(name, handler) {
		if (typeof handler !== 'function')
			throw new TypeError(`on('${name}', handler): the handler must be a function`);
		if (!this.#handlers.has(name))
			this.#handlers.set(name, new Set());
		this.#handlers.get(name).add(handler);
		return () => this.off(name, handler);
	}

	off(name, handler) {
		this.#handlers.get(name)?.delete(handler);
	}

	// emit(name, detail): a handler that throws must not stop the others nor the client,
	// so its error is rethrown outside, where the runtime reports it as uncaught.
	emit(name, detail) {
		for (const handler of [...(this.#handlers.get(name) ?? [])]) {
			try {
				handler(detail);
			} catch (err) {
				setTimeout(() => { throw err; }, 0);
			}
		}
	}
}
