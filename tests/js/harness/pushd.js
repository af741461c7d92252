// pushd.js — a real toggles-pushd for the JS tests: started on a port of its own, killed,
// stopped, paused and started again on the same port, its /metrics read.

import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { env } from './env.js';
import { sleep } from './wait.js';

const running = new Set();

// freePort(): a TCP port on 127.0.0.1 nobody listens on, from the kernel.
export function freePort() {
	return new Promise((resolve, reject) => {
		const srv = createServer();
		srv.once('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

export class Pushd {
	// start({db, name, anonymous = true, args = []}): a daemon, resolved once /healthz says 200.
	static async start({ db, name, anonymous = true, args = [], port, waitHealthy = true }) {
		const p = new Pushd();
		p.db = db;
		p.name = name ?? db;
		p.anonymous = anonymous;
		p.args = args;
		p.port = port ?? await freePort();
		p.log = `${env.out}/pushd-${p.name}-${p.port}.log`;
		await p.#spawn(waitHealthy);
		return p;
	}

	get url() { return `ws://127.0.0.1:${this.port}`; }
	get httpUrl() { return `http://127.0.0.1:${this.port}`; }

	async #spawn(waitHealthy) {
		const fd = openSync(this.log, 'a');
		const argv = ['--db', `${env.pushdDb} dbname=${this.db}`, '--listen', `127.0.0.1:${this.port}`,
			'--node', `js-${this.name}-${this.port}`, ...(this.anonymous ? ['--allow-anonymous'] : []), ...this.args];
		this.proc = spawn(env.pushd, argv, { stdio: ['ignore', fd, fd] });
		closeSync(fd);
		this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve(signal ?? code)));
		running.add(this.proc);
		this.exited.then(() => running.delete(this.proc));
		if (waitHealthy)
			await this.waitHealth(200, 20000);
	}

	// waitHealth(status, timeoutMs): until /healthz answers that status.
	async waitHealth(status, timeoutMs) {
		const deadline = Date.now() + timeoutMs;
		let last = 'no answer';
		while (Date.now() < deadline) {
			if (this.proc.exitCode !== null || this.proc.signalCode !== null)
				throw new Error(`toggles-pushd ${this.name} exited (${this.proc.exitCode ?? this.proc.signalCode}):\n${this.logText()}`);
			try {
				const res = await fetch(`${this.httpUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
				last = res.status;
				await res.arrayBuffer();
				if (res.status === status)
					return;
			} catch (err) {
				last = err.cause?.code ?? err.message;
			}
			await sleep(50);
		}
		throw new Error(`toggles-pushd ${this.name}: /healthz not ${status} within ${timeoutMs} ms (last: ${last})\n${this.logText()}`);
	}

	logText() {
		try {
			return readFileSync(this.log, 'utf8');
		} catch {
			return '';
		}
	}

	async kill9() {
		this.proc.kill('SIGKILL');
		await this.exited;
	}

	// stop(): SIGTERM (clients get 1001), then the exit.
	async stop() {
		if (this.proc.exitCode !== null || this.proc.signalCode !== null)
			return;
		this.proc.kill('SIGTERM');
		const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
		await this.exited;
		clearTimeout(timer);
	}

	// pause() / resume(): SIGSTOP and SIGCONT, a daemon that hangs with its sockets open.
	pause() { this.proc.kill('SIGSTOP'); }
	resume() { this.proc.kill('SIGCONT'); }

	// restart(): started again on the same port (the previous process must be gone).
	async restart({ waitHealthy = true } = {}) {
		await this.#spawn(waitHealthy);
	}

	// metrics(): {name or name{labels}: value} from /metrics.
	async metrics() {
		const text = await (await fetch(`${this.httpUrl}/metrics`)).text();
		const m = {};
		for (const line of text.split('\n')) {
			const hit = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
			if (hit)
				m[hit[1]] = Number(hit[2]);
		}
		return m;
	}
}

// A test file that fails must not leave daemons behind (nor stopped ones).
process.on('exit', () => {
	for (const proc of running) {
		try {
			proc.kill('SIGCONT');
			proc.kill('SIGKILL');
		} catch { /* gone */ }
	}
});
