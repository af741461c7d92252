// web.test.js — OpenFeature's web SDK with its generic OFREP web provider, from npm and
// unmodified, in Debian's Chromium, on a page served from another origin than pushd (so
// that CORS is in play): READY, a flip in SQL reaching the page through OFREP's event
// stream (polling off) as PROVIDER_CONFIGURATION_CHANGED and the new value within 2 s, a
// context change re-evaluated, a revoked token ending in the provider's fatal or error state.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { launch } from '../harness/browser.js';
import { createDatabase, psql, version } from '../harness/db.js';
import { Pushd, freePort } from '../harness/pushd.js';
import { waitFor } from '../harness/wait.js';

const DB = 'js_ofrep_web';
const modules = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules');
let pushd;
let page;
let browser;
let site;
let token;

// The page: the SDK and the provider as they are published, resolved by an import map.
const IMPORTS = {
	'@openfeature/web-sdk': '/m/@openfeature/web-sdk/dist/esm/index.js',
	'@openfeature/core': '/m/@openfeature/core/dist/esm/index.js',
	'@openfeature/ofrep-core': '/m/@openfeature/ofrep-core/index.esm.js',
	'@openfeature/ofrep-web-provider': '/m/@openfeature/ofrep-web-provider/index.esm.js',
};

// The web provider brings its own (newer) ofrep-core, as npm installed it.
const SCOPES = {
	'/m/@openfeature/ofrep-web-provider/': {
		'@openfeature/ofrep-core': '/m/@openfeature/ofrep-web-provider/node_modules/@openfeature/ofrep-core/index.esm.js',
	},
};

const APP = `
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const q = new URLSearchParams(location.search);
window.__events = [];
for (const type of [ProviderEvents.Ready, ProviderEvents.ConfigurationChanged, ProviderEvents.Error, ProviderEvents.Stale])
	OpenFeature.addHandler(type, (e) => window.__events.push({ type, flagsChanged: e?.flagsChanged ?? null, at: performance.now() }));
await OpenFeature.setContext({ targetingKey: 'alice', country: 'DE' });
window.__OpenFeature = OpenFeature;
await OpenFeature.setProviderAndWait(new OFREPWebProvider({
	baseUrl: q.get('pushd'),
	headers: [['Authorization', 'Bearer ' + q.get('token')]],
	pollInterval: 0,
}));
window.__client = OpenFeature.getClient();
`;

function serveSite(port) {
	return new Promise((resolve) => {
		const server = createServer((req, res) => {
			const url = new URL(req.url, 'http://x');
			if (url.pathname === '/') {
				res.writeHead(200, { 'content-type': 'text/html' });
				res.end(`<!doctype html><script type="importmap">${JSON.stringify({ imports: IMPORTS, scopes: SCOPES })}</script>` +
					'<script type="module" src="/app.js"></script><body>ofrep web</body>');
			} else if (url.pathname === '/app.js') {
				res.writeHead(200, { 'content-type': 'text/javascript' });
				res.end(APP);
			} else if (url.pathname.startsWith('/m/')) {
				const file = normalize(join(modules, url.pathname.slice(3)));
				if (!file.startsWith(modules)) {
					res.writeHead(403).end();
					return;
				}
				try {
					const body = readFileSync(file);
					res.writeHead(200, { 'content-type': 'text/javascript' });
					res.end(body);
				} catch {
					res.writeHead(404).end();
				}
			} else
				res.writeHead(404).end();
		});
		server.listen(port, '127.0.0.1', () => resolve(server));
	});
}

const pageEval = (fn, arg) => page.evaluate(fn, arg);
const value = (key, def, kind = 'Boolean') => pageEval(([k, d, m]) => window.__client[`get${m}Value`](k, d), [key, def, kind]);
const status = () => pageEval(() => window.__client.providerStatus);
const events = () => pageEval(() => window.__events);

before(async () => {
	await createDatabase(DB);
	await psql(DB, `INSERT INTO toggles.features (name, is_active) VALUES ('checkout.new', true), ('other', true);
		INSERT INTO toggles.features (name, is_active, rules, variants) VALUES
		('checkout.beta', true, '[{"when":[{"attribute":"key","op":"in","value":["alice"]}],"serve":true}]', '{}'),
		('banner', true, '[{"when":[{"attribute":"country","op":"equals","value":"DE"}],"serve":{"variant":"blue"}},
			{"serve":{"variant":"red"}}]', '{"blue":"#00f","red":"#f00"}')`);
	token = await psql(DB, "SELECT toggles.create_token('ofrep web', '{checkout.*,banner}')");
	const sitePort = await freePort();
	site = await serveSite(sitePort);
	pushd = await Pushd.start({ db: DB, anonymous: false, args: ['--allowed-origins', `http://127.0.0.1:${sitePort}`] });
	browser = await launch();
	page = await browser.newPage();
	await page.goto(`http://127.0.0.1:${sitePort}/?pushd=${encodeURIComponent(pushd.httpUrl)}&token=${token}`);
	try {
		await page.waitForFunction(() => window.__client !== undefined, null, { timeout: 15000 });
	} catch (err) {
		throw new Error(`the page did not get ready: ${err.message}\n${browser.problems.join('\n')}`);
	}
});

after(async () => {
	await browser?.close();
	await pushd?.stop();
	site?.close();
});

test('READY on a page from another origin, with the values for its context', async () => {
	assert.equal(await status(), 'READY');
	assert.ok((await events()).some((e) => e.type === 'PROVIDER_READY'));
	assert.equal(await value('checkout.new', false), true);
	assert.equal(await value('checkout.beta', false), true, 'targetingKey alice is in the rule');
	assert.equal(await value('banner', 'grey', 'String'), '#00f');
	assert.deepEqual(browser.problems.filter((p) => /CORS|blocked/i.test(p)), []);
});

test('a flip in SQL: PROVIDER_CONFIGURATION_CHANGED and the new value within 2 s, through the event stream', async () => {
	const seen = (await events()).length;
	const t0 = Date.now();
	await psql(DB, "UPDATE toggles.features SET is_active = false WHERE name = 'checkout.new'");
	await waitFor(async () => (await value('checkout.new', true)) === false, 2000, 'the new value on the page');
	const changed = (await events()).slice(seen).find((e) => e.type === 'PROVIDER_CONFIGURATION_CHANGED');
	assert.ok(changed, 'a PROVIDER_CONFIGURATION_CHANGED event');
	assert.ok(Date.now() - t0 < 2000);
	assert.ok((await pushd.metrics()).pushd_sse_streams_total >= 1, 'the page holds an event stream (polling is off)');
	assert.equal(await status(), 'READY');
});

test('a commit outside the token\'s scope tells the page nothing', async () => {
	const seen = (await events()).length;
	await psql(DB, "UPDATE toggles.features SET is_active = false WHERE name = 'other'");
	const want = await version(DB);
	await waitFor(async () => (await (await fetch(`${pushd.httpUrl}/healthz`)).json()).version >= want, 5000, 'pushd at the commit');
	await new Promise((r) => setTimeout(r, 500));
	assert.deepEqual((await events()).slice(seen), []);
});

test('a context change is evaluated again', async () => {
	await pageEval(() => window.__OpenFeature.setContext({ targetingKey: 'bob', country: 'FR' }));
	await waitFor(async () => (await value('checkout.beta', true)) === false, 5000, 'bob\'s value');
	assert.equal(await value('banner', 'grey', 'String'), '#f00');
	assert.equal(await status(), 'READY');
});

test('a revoked token: PROVIDER_STALE at once, PROVIDER_ERROR at the next context change, FATAL on a fresh start', async () => {
	const seen = (await events()).length;
	await psql(DB, "SELECT toggles.revoke_token(id) FROM toggles.tokens WHERE label = 'ofrep web'");
	// pushd ends the token's event stream; the reconnect meets a 401. This provider (0.4.3,
	// polling off) then keeps retrying in the background, serving its last values as stale.
	let last = '';
	await waitFor(async () => {
		last = `${await status()} after ${JSON.stringify((await events()).slice(seen).map((e) => e.type))}`;
		return (await events()).slice(seen).some((e) => e.type === 'PROVIDER_STALE');
	}, 10000, 'PROVIDER_STALE', () => last);
	await pageEval(() => window.__OpenFeature.setContext({ targetingKey: 'carol' }));
	// The SDK 1.10.0 reports the provider's PROVIDER_ERROR and keeps its status READY.
	await waitFor(async () => {
		last = `${await status()} after ${JSON.stringify((await events()).slice(seen).map((e) => e.type))}`;
		return (await events()).slice(seen).some((e) => e.type === 'PROVIDER_ERROR');
	}, 5000, 'PROVIDER_ERROR after the context change', () => last);

	const fresh = await browser.context.newPage();
	await fresh.goto(page.url());
	await fresh.waitForFunction(() => window.__client !== undefined || window.__events.some((e) => e.type === 'PROVIDER_ERROR'),
		null, { timeout: 15000 }).catch(() => {});
	const [freshStatus, freshValue] = await fresh.evaluate(() => {
		const client = window.__OpenFeature?.getClient();
		return [client?.providerStatus ?? 'no client', client?.getBooleanValue('checkout.new', false)];
	});
	await fresh.close();
	assert.equal(freshStatus, 'FATAL', 'a start with a revoked token is fatal');
	assert.equal(freshValue, false, 'the caller\'s default');
});
