// browser.js — Debian's Chromium driven by playwright-core (no browser is downloaded):
// headless, no sandbox (the tests may run as root), a fresh profile per launch, and every
// console error and CSP violation of its pages collected for the tests to check.

import { mkdtempSync, rmSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { env } from './env.js';

export const CHROMIUM = process.env.TOGGLES_CHROMIUM || '/usr/bin/chromium';

const ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];

// launch(): {context, newPage(), problems, close()}; problems lists console errors, page
// errors and CSP violations of every page.
export async function launch() {
	const profile = mkdtempSync(`${env.out}/chromium-profile-`);
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		args: ARGS,
		viewport: { width: 1360, height: 800 },
		timeout: 60000,
		// Chromium writes caches under HOME, which may be another user's (runuser keeps it).
		env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
	});
	const problems = [];
	const watch = (page) => {
		page.on('console', (m) => {
			if (m.type() === 'error')
				problems.push(`console: ${m.text()}`);
		});
		page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
	};
	context.pages().forEach(watch);
	context.on('page', watch);
	return {
		context,
		problems,
		async newPage() {
			return context.pages().find((p) => p.url() === 'about:blank') ?? context.newPage();
		},
		async close() {
			await context.close();
			rmSync(profile, { recursive: true, force: true });
		},
	};
}

// watchStates(page): records every value the indicator's data-state takes from now on;
// read with statesSeen(page).  Test-side code, run through the debugger protocol (the
// page's CSP does not apply to it).
export async function watchStates(page) {
	await page.evaluate(() => {
		const el = document.getElementById('indicator');
		window.__statesSeen = [el.dataset.state];
		new MutationObserver(() => window.__statesSeen.push(el.dataset.state))
			.observe(el, { attributes: true, attributeFilter: ['data-state'] });
	});
}

export function statesSeen(page) {
	return page.evaluate(() => window.__statesSeen.filter((s, i, a) => i === 0 || s !== a[i - 1]));
}
