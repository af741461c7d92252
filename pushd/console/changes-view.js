// changes-view.js — the running list of the latest changes, newest first.

const KEEP = 50;

function clock(d) {
	const p = (n) => String(n).padStart(2, '0');
	return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// describe(name, client): "dark-mode on", "layout on (wide)", "beta removed".
function describe(name, client) {
	const t = client.get(name);
	if (!t)
		return `${name} removed`;
	return `${name} ${t.active ? 'on' : 'off'}${t.variant === null ? '' : ` (${t.variant})`}`;
}

export class ChangesView {
	constructor(list, none) {
		this.list = list;
		this.none = none;
	}

	// add(event, client): one line for one change event of the client.
	add(e, client) {
		const li = document.createElement('li');
		const time = document.createElement('time');
		const now = new Date();
		time.dateTime = now.toISOString();
		time.textContent = clock(now);
		const what = document.createElement('span');
		what.className = 'what';
		const kind = e.type === 'snapshot' ? 'new snapshot: ' : e.cause === 'schedule' ? 'time window: ' : '';
		what.textContent = kind + e.names.map((n) => describe(n, client)).join(', ');
		const version = document.createElement('span');
		version.className = 'version';
		version.textContent = `v${e.version}`;
		li.append(time, ' ', version, ' ', what);
		li.className = 'changed';
		this.list.prepend(li);
		while (this.list.children.length > KEEP)
			this.list.lastElementChild.remove();
		this.none.hidden = true;
	}
}
