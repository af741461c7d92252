// wait.js — waiting with a deadline (a broken server fails a test, never hangs it), and
// recording what a client reports.

import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

// waitFor(cond, timeoutMs, what): resolves when cond() is true; rejects at the deadline
// with what was awaited and, from describe(), what was seen instead.
export async function waitFor(cond, timeoutMs, what, describe = () => '') {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		if (await cond())
			return;
		if (Date.now() > deadline)
			throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe() ? `; seen: ${describe()}` : ''}`);
		await sleep(20);
	}
}

// record(client): every event the client emits, with its time, as they come.
export function record(client) {
	const t0 = Date.now();
	const log = { statuses: [], changes: [], retries: [], errors: [] };
	client.on('status', (e) => log.statuses.push({ ...e, at: Date.now() - t0 }));
	client.on('change', (e) => log.changes.push({ ...e, at: Date.now() - t0 }));
	client.on('retry', (e) => log.retries.push({ ...e, at: Date.now() - t0 }));
	client.on('error', (e) => log.errors.push({ code: e.code, message: e.message, at: Date.now() - t0 }));
	log.statusNames = () => log.statuses.map((s) => s.status);
	return log;
}

// statusIs(client, status, timeoutMs): waits for that status.
export function statusIs(client, status, timeoutMs) {
	return waitFor(() => client.status === status, timeoutMs, `status ${status}`,
		() => `${client.status} (${client.error?.message ?? 'no error'})`);
}

// How long a client may take to be ready after pushd came back: an attempt that met pushd
// before its first load was answered 503 with a Retry-After (1 s), which the client
// honours, on top of its own backoff.
export const RESTARTED_MS = 12000;
