// backoff.js — how long to wait before the next connection attempt: exponential backoff
// with full jitter, so that clients cut off together do not come back together.

export const BACKOFF_DEFAULTS = Object.freeze({ min: 1000, max: 30000, resetAfter: 60000 });

// backoffWindow(attempt, {min, max}): the longest wait before attempt n (1, 2, ...):
// min doubled n-1 times, capped at max.
export function backoffWindow(attempt, { min, max }) {
	return Math.min(max, min * 2 ** Math.max(0, attempt - 1));
}

// backoffDelay(attempt, opts, random): a uniform draw from [0, window) ("full jitter").
export function backoffDelay(attempt, opts, random = Math.random) {
	return Math.floor(random() * backoffWindow(attempt, opts));
}

// checkBackoff(opts): the options merged with the defaults, or a TypeError naming the bad one.
export function checkBackoff(opts = {}) {
	const merged = { ...BACKOFF_DEFAULTS, ...opts };
	for (const key of ['min', 'max', 'resetAfter']) {
		if (!Number.isFinite(merged[key]) || merged[key] < 0)
			throw new TypeError(`backoff.${key} must be a number of milliseconds >= 0, got ${merged[key]}`);
	}
	if (merged.max < merged.min)
		throw new TypeError(`backoff.max (${merged.max}) must not be below backoff.min (${merged.min})`);
	return merged;
}
