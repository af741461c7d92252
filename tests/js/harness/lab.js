// lab.js — cuts and heals of the network lab (docs/development.md) from the JS tests, through
// the setuid helper scripts/test.sh installs; every cut is healed when the process exits.

import { execFileSync } from 'node:child_process';
import { env } from './env.js';

const cuts = new Set();

// available(): why the lab cannot be used, or null when it can.
export function missing() {
	if (!env.netlabCtl)
		return 'TOGGLES_NETLAB_CTL is not set (scripts/test.sh sets the lab up when run as root)';
	if (!env.labHost)
		return 'the cluster does not run on a lab host';
	return null;
}

function ctl(...args) {
	execFileSync(env.netlabCtl, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
}

// cut(host, ...peers): a black hole between host and the peers ('root' is where the tests run).
export function cut(host, ...peers) {
	cuts.add(host);
	ctl('cut', host, ...peers);
}

export function heal(host) {
	ctl('heal', host);
	cuts.delete(host);
}

process.on('exit', () => {
	for (const host of cuts) {
		try {
			ctl('heal', host);
		} catch (err) {
			process.stderr.write(`lab: healing ${host} at exit failed: ${err.message}\n`);
		}
	}
});
