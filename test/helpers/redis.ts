import { afterAll, beforeAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeys, type Keys } from '../../src/state/keys.js';
import { openRedis, type RedisContext, type RedisHandle } from '../../src/state/redis.js';

/**
 * A private redis-server for one test file, started through the adapter in a
 * temporary state directory (short: the socket path must fit in 107 bytes).
 * REDIS_URL is ignored on purpose: tests never touch a shared Redis.
 */
export interface TestRedis {
  handle: RedisHandle;
  stateDir: string;
  /** Stops the server by PID (waits for it) and removes the state directory. */
  stop(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const stateDir = await mkdtemp(join(tmpdir(), 'mg-redis-'));
  const handle = await openRedis({ stateDir, env: {} });
  return {
    handle,
    stateDir,
    stop: async () => {
      await handle.stop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/**
 * A private redis-server for the calling suite: started in its beforeAll,
 * stopped (by PID) in its afterAll. The object is filled in when the
 * suite's tests run; `context()` gives a context under a fresh prefix.
 */
export function useTestRedis(): TestRedis & { context(): RedisContext } {
  const suite = { context: (): RedisContext => ({ redis: suite.handle.client, keys: freshKeys() }) } as TestRedis & { context(): RedisContext };
  beforeAll(async () => {
    Object.assign(suite, await startTestRedis());
  });
  afterAll(async () => {
    await suite.stop?.();
  });
  return suite;
}

/** Key names under a prefix no other test uses. */
export function freshKeys(): Keys {
  return createKeys(`t${randomBytes(6).toString('hex')}`);
}

/** Every key under the prefix (SCAN), sorted. */
export async function listKeys(handle: RedisHandle, keys: Keys): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await handle.client.scan(cursor, 'MATCH', `${keys.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found.sort();
}

/** True while a process with this PID exists (and is not a zombie we could reap). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitForExit(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
