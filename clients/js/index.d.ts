// Types of pg-toggles (src/index.js); clients/js/README.md explains each member.

export type Status = 'connecting' | 'ready' | 'stale' | 'error' | 'fatal';

export type Context = Record<string, unknown>;

/** A toggle as evaluated for this client's context (docs/protocol.md). */
export interface Toggle {
	readonly name: string;
	readonly active: boolean;
	readonly variant: string | null;
	/** Present only when a variant was chosen. */
	readonly value?: unknown;
	readonly reason: 'DISABLED' | 'TARGETING_MATCH' | 'SPLIT' | 'DEFAULT' | 'SCHEDULE' | 'ERROR' | null;
	readonly version: number | null;
	readonly description: string;
	readonly updated_at: string | null;
}

/** The message GET /v1/toggles answers, as given to `bootstrap`. */
export interface Snapshot {
	type?: 'snapshot';
	epoch: string;
	version: number;
	toggles: Array<Partial<Toggle> & { name: string }>;
}

/** The Web Storage interface (localStorage, sessionStorage), or anything shaped like it. */
export interface StorageLike {
	getItem(key: string): string | null;
	setItem(key: string, value: string): void;
	removeItem(key: string): void;
}

export interface BackoffOptions {
	/** First retry window, ms (default 1000). */
	min?: number;
	/** Largest retry window, ms (default 30000). */
	max?: number;
	/** A connection ready this long resets the windows to `min`, ms (default 60000). */
	resetAfter?: number;
}

export interface ConnectOptions {
	/** ws://, wss://, http:// or https:// of toggles-pushd; in a browser, defaults to this page's server. */
	url?: string;
	/** A client token (tgt_...); leave out for a server run with --allow-anonymous. */
	token?: string;
	/** Where the token travels: 'header' (Authorization) or 'protocol' (the second subprotocol). */
	tokenIn?: 'header' | 'protocol';
	/** The targeting context, a JSON object of at most 4096 bytes. */
	context?: Context;
	/** A WebSocket constructor where there is no global one (Node 20: the ws package). */
	WebSocket?: unknown;
	/** Where the last good state is kept; default localStorage in browsers, none in Node; null: none. */
	storage?: StorageLike | null;
	/** A snapshot fetched by the server side (fetchSnapshot), served until the stream answers. */
	bootstrap?: Snapshot;
	/** fetch, to ask /v1/toggles why a handshake failed; default the global one. */
	fetch?: typeof globalThis.fetch;
	/** Silence on a ready connection after which a ping is sent, ms (default 15000). */
	pingInterval?: number;
	/** Silence after which the state is no longer vouched for and a ready connection is given up, ms (default 20000). */
	readTimeout?: number;
	/** Longest wait for a connection's first message, ms (default 10000). */
	connectTimeout?: number;
	backoff?: BackoffOptions;
}

export type ErrorCode =
	| 'unauthorized' | 'invalid_context' | 'unavailable' | 'network' | 'timeout' | 'offline'
	| 'protocol' | 'storage' | 'websocket' | 'superseded' | 'closed' | string;

export declare class TogglesError extends Error {
	readonly code: ErrorCode;
	/** The WebSocket close code, when a close caused it. */
	readonly closeCode?: number;
	/** The HTTP status /v1/toggles answered, when that told the cause. */
	readonly httpStatus?: number;
}

export interface ChangeEvent {
	/** Toggles whose result (active, variant, value, reason, description) changed, added or removed; sorted. */
	names: string[];
	version: number;
	epoch: string;
	/** 'snapshot' when the whole state was replaced (first connection, new epoch, new context). */
	type: 'snapshot' | 'change';
	/** 'schedule' when a time window opened or closed. */
	cause?: 'schedule';
}

export interface StatusEvent {
	status: Status;
	previous: Status;
	/** Why the status is not ready; null when it is. */
	error: TogglesError | null;
}

export interface RetryEvent {
	/** Failed attempts since the last connection that lasted backoff.resetAfter. */
	attempt: number;
	/** Milliseconds until the next attempt. */
	delay: number;
	code: ErrorCode;
	reason: string;
}

export declare class Client {
	readonly status: Status;
	readonly error: TogglesError | null;
	readonly url: string;
	readonly epoch: string | null;
	readonly version: number | null;
	readonly context: Context;
	isEnabled(name: string, fallback?: boolean): boolean;
	variant(name: string): string | null;
	value<T = unknown>(name: string, fallback?: T): T | undefined;
	get(name: string): Toggle | undefined;
	all(): Toggle[];
	on(event: 'change', handler: (e: ChangeEvent) => void): () => void;
	on(event: 'status', handler: (e: StatusEvent) => void): () => void;
	on(event: 'retry', handler: (e: RetryEvent) => void): () => void;
	on(event: 'error', handler: (e: TogglesError) => void): () => void;
	off(event: 'change' | 'status' | 'retry' | 'error', handler: (e: any) => void): void;
	ready(): Promise<Client>;
	setContext(context: Context): Promise<void>;
	close(): void;
}

export declare const STATUSES: readonly Status[];
export declare const TIMING_DEFAULTS: Readonly<{ pingInterval: number; readTimeout: number; connectTimeout: number }>;
export declare const BACKOFF_DEFAULTS: Readonly<Required<BackoffOptions>>;
export declare const SUBPROTOCOL: 'pg-toggles.v1';

export declare function connect(options?: ConnectOptions): Client;

export declare function fetchSnapshot(options: {
	url: string;
	token?: string;
	context?: Context;
	fetch?: typeof globalThis.fetch;
}): Promise<Snapshot>;
