import { setTimeout as sleep } from 'node:timers/promises';
import { defineScript } from './redis-script.js';
import type { RedisContext } from './redis.js';

/** How long a push lock outlives a push that died without freeing it. */
const EXPIRY_MS = 30 * 60_000;

/* Frees a push lock, only if `token` holds it (scripts/lock-release.lua): 1 when freed, 0 when another push holds it (or nobody). */
const releaseScript = defineScript('lock-release');

export interface PushLockWait {
  /** Told once per holder while this push waits. */
  onWait(holder: string): void;
  /** Whether the holder's push is over without having freed its lock (its process is gone): the lock is freed at once. */
  gone?(holder: string): boolean;
  /** Told when a gone holder's lock was freed. */
  onFreed?(holder: string): void;
}

/**
 * One push at a time per app and environment, from the pre-receive hook's
 * check of the branch until the post-receive hook, after the branch moved:
 * a second push waits, then sees the branch as the first left it. A lock
 * whose push is gone (`wait.gone`: the gateway was stopped during it) is
 * freed by the next push instead of holding it for EXPIRY_MS; the deploy
 * that push queued, if any, still comes first (the deploy order).
 */
export async function acquirePushLock(context: RedisContext, app: string, env: string, token: string, wait: PushLockWait): Promise<void> {
  const key = context.keys.pushLock(app, env);
  let told = '';
  for (;;) {
    if ((await context.redis.set(key, token, 'PX', EXPIRY_MS, 'NX')) === 'OK') return;
    const holder = (await context.redis.get(key)) ?? '';
    if (holder === token) return;
    if (holder && wait.gone?.(holder)) {
      if (await releasePushLock(context, app, env, holder)) wait.onFreed?.(holder);
      continue;
    }
    if (holder && holder !== told) {
      told = holder;
      wait.onWait(holder);
    }
    await sleep(200);
  }
}

export async function releasePushLock(context: RedisContext, app: string, env: string, token: string): Promise<boolean> {
  return (await releaseScript(context.redis, [context.keys.pushLock(app, env)], [token])) === 1;
}

/** The push locks `token` holds (post-receive frees them all). */
export async function heldPushLocks(context: RedisContext, app: string, token: string): Promise<string[]> {
  const held: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await context.redis.scan(cursor, 'MATCH', context.keys.appPattern('push-lock', app), 'COUNT', 100);
    cursor = next;
    for (const key of keys) if ((await context.redis.get(key)) === token) held.push(key.split(':').at(-1)!);
  } while (cursor !== '0');
  return held;
}
