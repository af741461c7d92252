// token-panel.js — the client token of this tab: asked for when the server refuses to
// serve without one, kept in sessionStorage (gone when the tab closes).

const KEY = 'pg-toggles-console-token';

function session() {
	try {
		return globalThis.sessionStorage ?? null;
	} catch {
		return null;	// storage forbidden: the token lives only in this page
	}
}

export class TokenPanel {
	#memory = null;

	// parts: {panel, form, input, message, forget, button}; onChange(): the token changed.
	constructor(parts, onChange) {
		Object.assign(this, parts);
		this.onChange = onChange;
		this.form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			this.#set(this.input.value.trim() || null);
		});
		this.forget.addEventListener('click', () => this.#set(null));
		this.button.addEventListener('click', () => (this.panel.hidden ? this.open('') : this.close()));
	}

	token() {
		return session()?.getItem(KEY) ?? this.#memory;
	}

	open(message) {
		this.message.textContent = message;
		this.panel.hidden = false;
		this.button.setAttribute('aria-expanded', 'true');
		this.input.focus();
	}

	close() {
		this.panel.hidden = true;
		this.button.setAttribute('aria-expanded', 'false');
	}

	#set(token) {
		this.#memory = token;
		try {
			if (token)
				session()?.setItem(KEY, token);
			else
				session()?.removeItem(KEY);
		} catch { /* kept in memory only */ }
		this.input.value = '';
		this.close();
		this.onChange();
	}
}
