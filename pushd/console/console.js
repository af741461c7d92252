// console.js — the live console: one client of this server's stream (clients/js), shown as
// a table of toggles, a live indicator and the latest changes.  Read-only.

import { connect } from '/console/lib/index.js';
import { ChangesView } from '/console/changes-view.js';
import { showStatus } from '/console/indicator.js';
import { SqlPanel } from '/console/sql-panel.js';
import { TokenPanel } from '/console/token-panel.js';
import { TogglesView } from '/console/toggles-view.js';

const $ = (id) => document.getElementById(id);

const sql = new SqlPanel($('sql'), $('copy-sql'), $('copy-result'));
const toggles = new TogglesView($('toggles-body'), $('count'), $('empty'), $('filter'), (name) => sql.show(name));
const changes = new ChangesView($('changes'), $('no-changes'));
const tokens = new TokenPanel({
	panel: $('token-panel'), form: $('token-form'), input: $('token-input'),
	message: $('token-message'), forget: $('token-forget'), button: $('token-button'),
}, start);

let client = null;

function position(c) {
	$('position').textContent = c.version === null ? '' : `version ${c.version} · epoch ${c.epoch.slice(0, 8)}…`;
}

// start: a new client for the token in this tab (none: an anonymous server).
function start() {
	client?.close();
	let everReady = false;
	const c = connect({ token: tokens.token() ?? undefined });
	let shown = c.version !== null;	// a state saved by an earlier visit is shown at once
	client = c;
	const show = () => showStatus($('indicator'), $('indicator-text'), c.status, c.error, everReady);
	show();
	toggles.render(c.all(), []);
	position(c);
	c.on('status', ({ status, error }) => {
		show();
		if (status === 'ready') {
			everReady = true;
			show();
		} else if (status === 'fatal' && error?.code === 'unauthorized') {
			tokens.open(tokens.token()
				? `This token was refused: ${error.message}.`
				: 'This server needs a client token.');
		}
	});
	c.on('change', (e) => {
		const first = !shown;	// the first snapshot is the table, not a change
		shown = true;
		toggles.render(c.all(), first ? [] : e.names);
		if (!first)
			changes.add(e, c);
		position(c);
	});
}

start();
