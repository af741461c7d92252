// indicator.js — the live indicator: the client's status in the words a person reads.

// showStatus: sets data-state (live, connecting, reconnecting, stale, offline, refused,
// stopped; the stylesheet colours it) and the text.
export function showStatus(el, textEl, status, error, everReady) {
	const why = error?.message ? `: ${error.message}` : '';
	let state;
	let text;
	switch (status) {
		case 'ready':
			[state, text] = ['live', 'live'];
			break;
		case 'connecting':
			[state, text] = everReady ? ['reconnecting', 'reconnecting…'] : ['connecting', 'connecting…'];
			break;
		case 'stale':
			[state, text] = ['stale', `stale${why} — retrying`];
			break;
		case 'error':
			[state, text] = error?.code === 'invalid_context'
				? ['stopped', `context refused${why}`]
				: ['offline', `offline${why} — retrying`];
			break;
		default:
			[state, text] = error?.code === 'unauthorized'
				? ['refused', `token refused${why}`]
				: ['stopped', `stopped${why}`];
	}
	el.dataset.state = state;
	textEl.textContent = text;
}
