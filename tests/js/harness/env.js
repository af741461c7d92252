// env.js — what tests/t/060 and 061 hand the JS tests: the daemon, the database, the lab,
// and where outputs go.  A missing setting names itself instead of failing later.

import { mkdirSync } from 'node:fs';

function required(name, what) {
	const v = process.env[name];
	if (!v)
		throw new Error(`${name} is not set (${what}); run through tests/t/060_js_client.pl or 061_console_browser.pl`);
	return v;
}

export const env = {
	// The toggles-pushd binary to test.
	get pushd() { return required('TOGGLES_PUSHD', 'the toggles-pushd binary'); },
	// libpq conninfo without dbname, for the tests' own psql (the cluster's Unix socket).
	get pg() { return required('TOGGLES_JS_PG', 'a conninfo for psql'); },
	// libpq conninfo without dbname, for pushd (over TCP to a lab host when there is a lab).
	get pushdDb() { return process.env.TOGGLES_JS_PUSHD_DB || this.pg; },
	// The lab host the cluster runs on, and the lab's helper: set only when there is a lab.
	labHost: process.env.TOGGLES_JS_LAB_HOST || null,
	netlabCtl: process.env.TOGGLES_NETLAB_CTL || null,
	// The docs whose examples the tests run (scripts/test.sh copies docs/ beside tests/).
	get docs() { return process.env.TOGGLES_DOCS || new URL('../../../docs', import.meta.url).pathname; },
	get out() {
		const dir = process.env.TOGGLES_JS_OUT || '/tmp/pg_toggles-js-out';
		mkdirSync(dir, { recursive: true });
		return dir;
	},
};
