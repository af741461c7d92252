// store.test.js (unit) — snapshots and changes applied by the protocol's rules, and the
// names of real changes (clients/js/src/store.js).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store } from '../../../clients/js/src/store.js';

const t = (name, active, more = {}) => ({ name, active, variant: null, reason: active ? 'DEFAULT' : 'DISABLED', version: 1, description: '', updated_at: null, ...more });

test('a snapshot replaces the state and names what differs from before', () => {
	const s = new Store();
	assert.deepEqual(s.applySnapshot({ epoch: 'e1', version: 5, toggles: [t('b', true), t('a', false)] }, '{}'), ['a', 'b']);
	assert.deepEqual(s.applySnapshot({ epoch: 'e1', version: 6, toggles: [t('a', false), t('c', true)] }, '{}'), ['b', 'c']);
	assert.deepEqual(s.all().map((x) => x.name), ['a', 'c']);
	assert.equal(s.version, 6);
});

test('a change replaces, adds and removes; only real changes are named', () => {
	const s = new Store();
	s.applySnapshot({ epoch: 'e1', version: 5, toggles: [t('a', false), t('b', true, { variant: 'v', value: { x: [1, 2] } })] }, '{}');
	// b re-sent with an equal value (members in another order) and a newer version: no change.
	const names = s.applyChange({ version: 7, toggles: [t('a', true), t('b', true, { variant: 'v', value: { x: [1, 2] }, version: 7 })], removed: ['gone'] });
	assert.deepEqual(names, ['a']);
	assert.equal(s.get('b').version, 7, 'the newer version is kept all the same');
	assert.deepEqual(s.applyChange({ version: 8, toggles: [], removed: ['a'] }), ['a']);
	assert.deepEqual(s.applyChange({ version: 9, toggles: [t('b', true, { variant: 'v', value: { x: [2, 1] } })] }), ['b']);
	assert.deepEqual(s.applyChange({ version: 9, toggles: [t('b', true, { variant: 'v', value: { x: [2, 1] }, description: 'now described' })] }), ['b'], 'a schedule change repeats a version');
});

test('never backwards: an older change is ignored', () => {
	const s = new Store();
	s.applySnapshot({ epoch: 'e1', version: 10, toggles: [t('a', false)] }, '{}');
	assert.equal(s.applyChange({ version: 9, toggles: [t('a', true)] }), null);
	assert.equal(s.get('a').active, false);
});

test('malformed messages are refused with a reason', () => {
	const s = new Store();
	assert.throws(() => s.applyChange({ version: 1, toggles: [] }), /before any snapshot/);
	assert.throws(() => s.applySnapshot({ version: 1, toggles: [] }), /needs an epoch/);
	s.applySnapshot({ epoch: 'e', version: 1, toggles: [t('a', true), { nonsense: true }] }, '{}');
	assert.deepEqual(s.all().map((x) => x.name), ['a'], 'an entry without a name is skipped');
});
