import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import type { RedisContext } from './redis.js';
import { defineScript } from './redis-script.js';
import { deleteKeys } from './delete-keys.js';

/**
 * One deploy at a time per app+env, in arrival order. BullMQ's group
 * concurrency is a paid feature, so:
 *
 * - the ORDER list of app+env holds its deploy job ids in arrival order
 *   (enqueue appends after adding the job to BullMQ);
 * - the LOCK (a string with an expiry) holds `<jobId> <token>` of the run
 *   that deploys now; the token is BullMQ's per-pick-up token, so a second
 *   run of the same job (its first worker died, or stalled) cannot take a
 *   lock its first run may still hold;
 * - only the head of the order may take the lock; it keeps its place until
 *   it has finished for good (a retry after a failure comes before the next
 *   deploy), then leaves the order and frees the lock in one step;
 * - the lock is renewed while the deploy runs; a dead worker's lock expires.
 *
 * Every change below touches both keys at once, hence Lua: Redis runs a
 * script atomically.
 */
export type AcquireResult =
  | { taken: true }
  /** Another job is at the head of the order (its id). */
  | { taken: false; ahead: string }
  /** This job is at the head, but an earlier run still holds the lock (until it expires). */
  | { taken: false; heldBy: string };

/* Registers a deploy job in its app+env's arrival order, once; returns its position (scripts/deploy-order-register.lua). */
const registerScript = defineScript('deploy-order-register');

/* Takes the lock for a job at the head of the order (scripts/app-lock-acquire.lua). */
const acquireScript = defineScript('app-lock-acquire');

/* Extends the lock, only if this run holds it (scripts/lock-renew.lua). */
const renewScript = defineScript('lock-renew');

/* Frees the lock if this run holds it; a job finished for good also leaves the order (scripts/app-lock-release.lua). */
const releaseScript = defineScript('app-lock-release');

/* Drops a head that will never release, with its lock (scripts/deploy-order-drop-head.lua). */
const dropHeadScript = defineScript('deploy-order-drop-head');

export interface AppEnv {
  app: string;
  env: string;
}

export async function registerDeploy(redis: Redis, keys: Keys, { app, env }: AppEnv, jobId: string): Promise<number> {
  return Number(await registerScript(redis, [keys.deployOrder(app, env)], [jobId]));
}

export async function acquireAppLock(redis: Redis, keys: Keys, { app, env }: AppEnv, jobId: string, value: string, ttlMs: number): Promise<AcquireResult> {
  const [code, other] = (await acquireScript(redis, [keys.deployLock(app, env), keys.deployOrder(app, env)], [jobId, value, ttlMs])) as [number, string];
  if (code === 1) return { taken: true };
  return code === 0 ? { taken: false, ahead: other } : { taken: false, heldBy: other };
}

export async function renewAppLock(redis: Redis, keys: Keys, { app, env }: AppEnv, value: string, ttlMs: number): Promise<boolean> {
  return (await renewScript(redis, [keys.deployLock(app, env)], [value, ttlMs])) === 1;
}

/** Returns the next job at the head of the order, if any. */
export async function releaseAppLock(redis: Redis, keys: Keys, { app, env }: AppEnv, jobId: string, value: string, finished: boolean): Promise<string | undefined> {
  const next = await releaseScript(redis, [keys.deployLock(app, env), keys.deployOrder(app, env)], [jobId, value, finished ? '1' : '0']);
  return typeof next === 'string' ? next : undefined;
}

/** Returns the new head, if any. */
export async function dropOrderHead(redis: Redis, keys: Keys, { app, env }: AppEnv, jobId: string): Promise<string | undefined> {
  const next = await dropHeadScript(redis, [keys.deployLock(app, env), keys.deployOrder(app, env)], [jobId]);
  return typeof next === 'string' ? next : undefined;
}

/** Lock value of one run: the job id first, so that dropping a dead head can free its lock. */
export function lockValue(jobId: string, token: string): string {
  return `${jobId} ${token}`;
}

/**
 * Removes app's deploy locks and arrival orders, in every environment. Call
 * when no deploy of app runs or waits (BullMQ's jobs of app are the caller's
 * to remove). The progress streams of its jobs expire on their own.
 */
export async function destroyAppState({ redis, keys }: RedisContext, app: string): Promise<void> {
  await deleteKeys(redis, [keys.appPattern('deploy-lock', app), keys.appPattern('deploy-order', app)]);
}
