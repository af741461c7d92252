// backoff.test.js (unit) — the windows and draws of clients/js/src/backoff.js.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BACKOFF_DEFAULTS, backoffDelay, backoffWindow, checkBackoff } from '../../../clients/js/src/backoff.js';

test('windows double from min and stop at max (defaults: 1 s to 30 s)', () => {
	const windows = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffWindow(n, BACKOFF_DEFAULTS));
	assert.deepEqual(windows, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
	assert.equal(BACKOFF_DEFAULTS.resetAfter, 60000);
});

test('a draw is anywhere in [0, window): full jitter', () => {
	const opts = { min: 100, max: 800 };
	assert.equal(backoffDelay(3, opts, () => 0), 0);
	assert.equal(backoffDelay(3, opts, () => 0.999999), 399);
	assert.equal(backoffDelay(9, opts, () => 0.5), 400);
});

test('bad settings are named', () => {
	assert.throws(() => checkBackoff({ min: -1 }), /backoff.min must be a number/);
	assert.throws(() => checkBackoff({ max: 'x' }), /backoff.max must be a number/);
	assert.throws(() => checkBackoff({ min: 500, max: 100 }), /must not be below backoff.min/);
	assert.deepEqual(checkBackoff({ max: 5000 }), { min: 1000, max: 5000, resetAfter: 60000 });
});
