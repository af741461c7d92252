// index.js — pg-toggles: feature toggles from a toggles-pushd server, live, in browsers and Node.
//
//   import { connect } from 'pg-toggles';
//   const toggles = connect({ url: 'wss://flags.example.com', token });
//   toggles.on('change', () => render(toggles.isEnabled('dark-mode', false)));

import { Client } from './client.js';

export { Client, STATUSES, TIMING_DEFAULTS, TogglesError } from './client.js';
export { BACKOFF_DEFAULTS } from './backoff.js';
export { SUBPROTOCOL, fetchSnapshot } from './transport.js';

// connect(options): a client that connects at once and keeps itself connected.
export function connect(options) {
	return new Client(options);
}
