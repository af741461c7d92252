// console.test.js — the live console in Debian's Chromium against a real pushd: it lists
// the toggles; an UPDATE shows within 2 s without a reload; a restarted pushd shows as
// reconnecting, then live; a refused token shows as refused, never as reconnecting.
// Screenshots of each state go to the test output directory (TOGGLES_JS_OUT); with
// TOGGLES_CONSOLE_SHOT set, the one for docs/ is copied there.

import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { launch, statesSeen, watchStates } from '../harness/browser.js';
import { createDatabase, psql, tableState } from '../harness/db.js';
import { env } from '../harness/env.js';
import { Pushd } from '../harness/pushd.js';
import { sleep } from '../harness/wait.js';

const DB = 'js_console';
let pushd;
let browser;
let page;

const shot = (name) => page.screenshot({ path: `${env.out}/console-${name}.png`, fullPage: true });
const state = () => page.getAttribute('#indicator', 'data-state');
const rowState = (name) => page.textContent(`tr[data-name="${name}"] td:nth-child(2)`);

before(async () => {
	await createDatabase(DB);
	await psql(DB, `INSERT INTO toggles.features (name, is_active, description) VALUES
		('dark-mode', false, 'Dark colour scheme for the web app'),
		('new-checkout', true, 'The redesigned checkout flow'),
		('beta-banner', false, 'Banner inviting users to the beta'),
		('search.v2', true, 'New search page');
		INSERT INTO toggles.features (name, is_active, description, variants, rules) VALUES
		('button-colour', true, 'Colour of the buy button', '{"blue": "#0050b3", "green": "#1f7a45"}',
		 '[{"when": [{"attribute": "country", "op": "equals", "value": "DE"}], "serve": {"variant": "green"}}, {"serve": {"variant": "blue"}}]')`);
	pushd = await Pushd.start({ db: DB });
	browser = await launch();
	page = await browser.newPage();
});

after(async () => {
	await browser?.close();
	await pushd?.stop();
});

test('GET / is the console, with a strict CSP; it lists every toggle, live', async () => {
	const res = await page.goto(`${pushd.httpUrl}/`);
	assert.equal(res.status(), 200);
	const csp = res.headers()['content-security-policy'];
	assert.match(csp, /script-src 'self'/);
	assert.match(csp, /style-src 'self'/);
	assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
	await page.waitForSelector('#indicator[data-state="live"]', { timeout: 10000 });
	const table = await tableState(DB);
	const rows = await page.$$eval('#toggles-body tr', (trs) => trs.map((tr) => tr.dataset.name));
	assert.deepEqual(rows, Object.keys(table).sort());
	for (const [name, on] of Object.entries(table))
		assert.equal(await rowState(name), on ? 'on' : 'off', name);
	assert.match(await page.textContent('tr[data-name="button-colour"] td:nth-child(3)'), /^blue = "#0050b3"$/);
	assert.equal(await page.textContent('tr[data-name="dark-mode"] td:nth-child(5)'), 'Dark colour scheme for the web app');
	assert.deepEqual(browser.problems, [], 'no script or style was refused, no error');
	await shot('live');

	const again = await page.request.get(`${pushd.httpUrl}/console`);
	assert.equal(again.status(), 200);
	assert.match(await again.text(), /<title>pg_toggles console<\/title>/);
	const ws = await page.request.get(`${pushd.httpUrl}/v1/stream`);
	assert.equal(ws.status(), 426, '/v1/stream stays WebSocket only');
	for (const path of ['/console/nope.js', '/console/lib/', '/console/lib/../../etc/passwd', '/consolex'])
		assert.equal((await page.request.get(`${pushd.httpUrl}${path}`)).status(), 404, path);
	const lib = await page.request.get(`${pushd.httpUrl}/console/lib/index.js`);
	assert.equal(lib.headers()['content-type'], 'text/javascript; charset=utf-8');
	assert.equal(lib.headers()['x-content-type-options'], 'nosniff');
});

test('an UPDATE in SQL shows within 2 s, highlighted, without a reload', async () => {
	let navigations = 0;
	page.on('framenavigated', () => navigations++);
	for (const name of ['new-checkout', 'dark-mode']) {
		const t0 = Date.now();
		await psql(DB, `UPDATE toggles.features SET is_active = NOT is_active WHERE name = '${name}'`);
		const want = (await tableState(DB))[name] ? 'on' : 'off';
		await page.waitForFunction(([n, w]) =>
			document.querySelector(`tr[data-name="${n}"] td:nth-child(2)`)?.textContent === w, [name, want], { timeout: 2000 });
		const took = Date.now() - t0;
		assert.ok(took < 2000, `${name} shown ${took} ms after the UPDATE`);
		assert.ok(await page.$eval(`tr[data-name="${name}"]`, (tr) => tr.classList.contains('changed')), 'the row is highlighted');
		assert.match(await page.textContent('#changes li:first-child'), new RegExp(`${name} ${want}`));
	}
	assert.equal(navigations, 0, 'no reload');
	assert.equal(await page.$$eval('#changes li', (lis) => lis.length), 2);

	// The statement to flip a toggle, reached with the keyboard.
	await page.focus('button[aria-label="SQL to flip dark-mode"]');
	await page.keyboard.press('Enter');
	assert.equal(await page.textContent('#sql'), "UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'dark-mode';");
	assert.equal(await page.evaluate(() => document.activeElement.id), 'sql');
	await shot('change');
	if (process.env.TOGGLES_CONSOLE_SHOT)
		copyFileSync(`${env.out}/console-change.png`, process.env.TOGGLES_CONSOLE_SHOT);

	await page.setViewportSize({ width: 390, height: 844 });
	await shot('phone');
	const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
		.filter((el) => el.getBoundingClientRect().right > 391).map((el) => `${el.tagName}#${el.id}.${el.className}`));
	assert.deepEqual(wide, [], 'nothing wider than a phone');
	await page.setViewportSize({ width: 1360, height: 800 });
	assert.deepEqual(browser.problems, []);
});

test('pushd restarted: the indicator goes to reconnecting, then back to live', async () => {
	await watchStates(page);
	await pushd.stop();
	await page.waitForSelector('#indicator[data-state="reconnecting"]', { timeout: 5000 });
	await shot('reconnecting');
	await psql(DB, "UPDATE toggles.features SET is_active = NOT is_active WHERE name = 'beta-banner'");
	await pushd.restart();
	await page.waitForSelector('#indicator[data-state="live"]', { timeout: 15000 });
	const seen = await statesSeen(page);
	assert.equal(seen[0], 'live');
	assert.equal(seen[1], 'reconnecting');
	assert.equal(seen.at(-1), 'live');
	assert.ok(seen.every((s) => ['live', 'reconnecting', 'stale'].includes(s)), seen.join(' → '));
	await page.waitForFunction(() => document.querySelector('tr[data-name="beta-banner"] td:nth-child(2)')?.textContent === 'on',
		null, { timeout: 2000 });
	assert.match(await page.textContent('#changes li:first-child'), /beta-banner on/, 'what changed meanwhile is listed');
});

test('tokens: asked for, refused as such (never "reconnecting"), then accepted and kept for the tab', async () => {
	const secured = await Pushd.start({ db: DB, name: 'js_console_tokens', anonymous: false });
	browser.problems.length = 0;
	try {
		const token = await psql(DB, "SELECT toggles.create_token('console test', '{dark-mode,search.*}')");
		await page.goto(`${secured.httpUrl}/`);
		await page.waitForSelector('#indicator[data-state="refused"]', { timeout: 10000 });
		assert.equal(await page.isVisible('#token-panel'), true, 'the token form opens');
		assert.match(await page.textContent('#token-message'), /needs a client token/);
		assert.equal(await page.evaluate(() => document.activeElement.id), 'token-input');
		await shot('token-required');

		await watchStates(page);
		await page.fill('#token-input', `tgt_${'0'.repeat(64)}`);
		await page.keyboard.press('Enter');
		await page.waitForFunction(() => /unknown token/.test(document.getElementById('indicator-text').textContent), null, { timeout: 10000 });
		assert.equal(await state(), 'refused');
		await sleep(2500);
		assert.equal(await state(), 'refused', 'still refused: no retry loop');
		assert.ok(!(await statesSeen(page)).includes('reconnecting'), (await statesSeen(page)).join(' → '));
		assert.match(await page.textContent('#token-message'), /refused: unknown token/);
		await shot('token-refused');

		await page.fill('#token-input', token);
		await page.click('#token-form button[type="submit"]');
		await page.waitForSelector('#indicator[data-state="live"]', { timeout: 10000 });
		assert.equal(await page.isVisible('#token-panel'), false);
		assert.deepEqual(await page.$$eval('#toggles-body tr', (trs) => trs.map((tr) => tr.dataset.name)),
			['dark-mode', 'search.v2'], 'only what the token covers');
		await page.reload();
		await page.waitForSelector('#indicator[data-state="live"]', { timeout: 10000 });
		assert.equal(await page.evaluate(() => sessionStorage.getItem('pg-toggles-console-token')), token, 'kept in sessionStorage');

		await psql(DB, "SELECT toggles.revoke_token(id) FROM toggles.tokens WHERE label = 'console test'");
		await page.waitForFunction(() => /token revoked/.test(document.getElementById('indicator-text').textContent), null, { timeout: 5000 });
		assert.equal(await state(), 'refused');
		assert.equal(await page.isVisible('#token-panel'), true);
		assert.deepEqual(browser.problems.filter((p) => !/401|Unauthorized|WebSocket/.test(p)), [],
			'nothing but the refused handshakes reported');
	} finally {
		await secured.stop();
	}
});
