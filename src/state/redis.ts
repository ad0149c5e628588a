import { Redis } from 'ioredis';
import { MagratheaError } from '../core/errors.js';
import type { Keys } from './keys.js';
import { ensurePrivateRedis, type PrivateRedis } from '../adapters/redis-server.js';

/** The one place Redis connections are made. */
export interface OpenRedisOptions {
  /** A Redis URL (`redis://`, `rediss://`). Default: `REDIS_URL` from `env`; when neither is set, a private server in `stateDir`. */
  url?: string;
  /** The gateway's state directory: the private server keeps its socket, PID file and append-only file in `<stateDir>/redis/`. */
  stateDir: string;
  /** Where REDIS_URL is read from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Milliseconds to wait for the private server to answer. Default 10 000. */
  startTimeoutMs?: number;
}

/** How to reach the server, as ioredis and BullMQ's `connection` option both take it. */
export type RedisConnectionOptions = ({ url: string } | { path: string }) & { disconnectTimeout: number };

// ioredis waits this long for a socket to close after disconnect(), on a timer that keeps the process
// alive, and its default (2 s) also runs for sockets already dead (server killed): every CLI command
// would linger 2 s after losing Redis. A closing Redis answers in well under this.
const DISCONNECT_TIMEOUT_MS = 200;

export interface RedisHandle {
  /** A shared connection for reads and writes (never for blocking commands). Reconnects by itself. */
  client: Redis;
  /** For connections of their own, e.g. BullMQ's (`connection: handle.connection`). */
  connection: RedisConnectionOptions;
  /** Where the server is, for messages: `unix:<socket>` or the URL without its password. */
  address: string;
  /** The private server, when no URL was given. */
  server?: PrivateRedis;
  /** A new connection to the same server, for blocking reads; the caller closes it (`disconnect()`). */
  duplicate(): Redis;
  /** Closes `client` and, if this call started the private server, stops it (by PID) and waits for it to exit. */
  stop(): Promise<void>;
}

/** What the state and deployer modules take: a connection and the key names. */
export interface RedisContext {
  redis: Redis;
  keys: Keys;
}

export async function openRedis(options: OpenRedisOptions): Promise<RedisHandle> {
  const url = options.url || (options.env ?? process.env).REDIS_URL || undefined;
  if (url) {
    const connection = { url, disconnectTimeout: DISCONNECT_TIMEOUT_MS };
    const client = await connect(connection, maskUrl(url));
    return handle(client, connection, maskUrl(url), undefined);
  }
  const server = await ensurePrivateRedis({ stateDir: options.stateDir, startTimeoutMs: options.startTimeoutMs });
  const connection = { path: server.socket, disconnectTimeout: DISCONNECT_TIMEOUT_MS };
  try {
    const client = await connect(connection, `unix:${server.socket}`);
    return handle(client, connection, `unix:${server.socket}`, server);
  } catch (e) {
    await server.stop();
    throw e;
  }
}

function handle(client: Redis, connection: RedisConnectionOptions, address: string, server: PrivateRedis | undefined): RedisHandle {
  let stopping: Promise<void> | undefined;
  return {
    client,
    connection,
    address,
    server,
    duplicate: () => newClient(connection),
    stop: () => (stopping ??= (async () => {
      client.disconnect();
      await server?.stop();
    })()),
  };
}

async function connect(connection: RedisConnectionOptions, address: string): Promise<Redis> {
  const client = newClient(connection, { lazyConnect: true });
  // connect() rejects with "Connection is closed"; the 'error' event before it says why (ECONNREFUSED...).
  let lastError: Error | undefined;
  const onError = (e: Error) => { lastError = e; };
  client.on('error', onError);
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (e) {
    client.disconnect();
    const cause = lastError ?? (e as Error);
    throw new MagratheaError(`cannot connect to Redis at ${address}: ${cause.message}`, 'redis-unavailable', 1, true, { cause });
  } finally {
    client.off('error', onError);
  }
}

function newClient(connection: RedisConnectionOptions, extra: { lazyConnect?: boolean } = {}): Redis {
  const { disconnectTimeout } = connection;
  const client = 'url' in connection ? new Redis(connection.url, { disconnectTimeout, ...extra }) : new Redis({ path: connection.path, disconnectTimeout, ...extra });
  // ioredis reports every lost connection as an 'error' event and reconnects by itself; a command that
  // cannot be served rejects on its own. Without a listener, ioredis prints each one to the console.
  client.on('error', () => {});
  return client;
}

function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}
