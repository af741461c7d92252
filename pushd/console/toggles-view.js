// toggles-view.js — the table of toggles: one row per toggle, updated in place, each row
// whose result changed highlighted as the change arrives.

const COLUMNS = ['Name', 'State', 'Variant', 'Reason', 'Description', 'Last update', ''];

// when(text): a timestamp as local "YYYY-MM-DD HH:MM:SS".
function when(text) {
	const d = new Date(text);
	if (!text || Number.isNaN(d.getTime()))
		return text ?? '';
	const p = (n) => String(n).padStart(2, '0');
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function cell(label) {
	const td = document.createElement('td');
	td.dataset.label = label;
	return td;
}

export class TogglesView {
	#rows = new Map();

	constructor(body, count, empty, filter, onSql) {
		this.body = body;
		this.count = count;
		this.empty = empty;
		this.filter = filter;
		this.onSql = onSql;
		filter.addEventListener('input', () => this.#applyFilter());
	}

	// render(toggles, changed): the table as toggles (sorted); rows named in changed light up.
	render(toggles, changed) {
		const seen = new Set();
		let before = null;
		for (const t of [...toggles].reverse()) {
			seen.add(t.name);
			let row = this.#rows.get(t.name);
			if (!row) {
				row = this.#newRow(t.name);
				this.#rows.set(t.name, row);
			}
			this.#fill(row, t);
			if (row.nextSibling !== before || row.parentNode !== this.body)
				this.body.insertBefore(row, before);
			before = row;
		}
		for (const [name, row] of this.#rows) {
			if (!seen.has(name)) {
				row.remove();
				this.#rows.delete(name);
			}
		}
		for (const name of changed) {
			const row = this.#rows.get(name);
			if (row) {
				row.classList.remove('changed');
				void row.offsetWidth;	// restarts the animation of a row that changes twice
				row.classList.add('changed');
			}
		}
		this.count.textContent = `(${toggles.length})`;
		this.empty.hidden = toggles.length > 0;
		this.empty.textContent = 'No toggle is visible to this client yet.';
		this.#applyFilter();
	}

	#newRow(name) {
		const row = document.createElement('tr');
		row.dataset.name = name;
		row.addEventListener('animationend', () => row.classList.remove('changed'));
		for (const label of COLUMNS)
			row.append(cell(label));
		const code = document.createElement('code');
		code.textContent = name;
		row.cells[0].append(code);
		const button = document.createElement('button');
		button.type = 'button';
		button.textContent = 'SQL';
		button.setAttribute('aria-label', `SQL to flip ${name}`);
		button.addEventListener('click', () => this.onSql(name));
		row.cells[6].append(button);
		return row;
	}

	#fill(row, t) {
		const [, state, variant, reason, description, updated] = row.cells;
		state.textContent = t.active ? 'on' : 'off';
		state.className = t.active ? 'state on' : 'state off';
		variant.textContent = t.variant === null ? '—'
			: 'value' in t ? `${t.variant} = ${JSON.stringify(t.value)}` : t.variant;
		reason.textContent = t.reason ?? '';
		description.textContent = t.description;
		updated.textContent = `${when(t.updated_at)} · v${t.version}`;
	}

	#applyFilter() {
		const needle = this.filter.value.trim().toLowerCase();
		for (const [name, row] of this.#rows)
			row.hidden = needle !== '' && !name.toLowerCase().includes(needle);
	}
}
