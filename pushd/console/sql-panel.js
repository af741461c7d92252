// sql-panel.js — the statement that flips a toggle, to copy into psql: the console never
// writes, flipping stays in SQL where it is logged with who did it.

// quote(name): a string literal in SQL.
function quote(name) {
	return `'${name.replaceAll("'", "''")}'`;
}

export class SqlPanel {
	constructor(code, copy, result) {
		this.code = code;
		this.result = result;
		copy.addEventListener('click', () => this.#copy());
	}

	show(name) {
		this.code.textContent = `UPDATE toggles.features SET is_active = NOT is_active WHERE name = ${quote(name)};`;
		this.result.textContent = '';
		this.code.scrollIntoView({ block: 'nearest' });
		this.code.focus();
	}

	async #copy() {
		try {
			await navigator.clipboard.writeText(this.code.textContent);
			this.result.textContent = 'copied';
		} catch {
			// No clipboard (an insecure origin, a refusal): select it for Ctrl+C instead.
			const range = document.createRange();
			range.selectNodeContents(this.code);
			getSelection().removeAllRanges();
			getSelection().addRange(range);
			this.result.textContent = 'selected: press Ctrl+C';
		}
	}
}
