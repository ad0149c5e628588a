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

/*
 * Registers a deploy job in its app+env's arrival order (once).
 *   KEYS[1]  order (LIST)
 *   ARGV[1]  job id
 * Returns the job's position (0 = head).
 */
const registerScript = defineScript(`
local pos = redis.call('LPOS', KEYS[1], ARGV[1])
if pos then return pos end
return redis.call('RPUSH', KEYS[1], ARGV[1]) - 1
`);

/*
 * Takes the lock for a job at the head of the order. A job missing from the
 * order (its entry was dropped, e.g. a finished job retried by hand) is
 * appended: it then waits behind every deploy that arrived before it.
 *   KEYS[1]  lock (STRING)
 *   KEYS[2]  order (LIST)
 *   ARGV[1]  job id
 *   ARGV[2]  lock value: '<job id> <token>'
 *   ARGV[3]  lock time to live, ms
 * Returns {1, ''} taken (or renewed: same value), {0, head id} another job is ahead,
 *         {-1, lock value} this job is the head but the lock is held by another run.
 */
const acquireScript = defineScript(`
local head = redis.call('LINDEX', KEYS[2], 0)
if head ~= ARGV[1] then
  if not redis.call('LPOS', KEYS[2], ARGV[1]) then redis.call('RPUSH', KEYS[2], ARGV[1]) end
  if not head then head = ARGV[1] else return {0, head} end
end
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[2] then return {-1, holder} end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return {1, ''}
`);

/*
 * Extends the lock, only if this run holds it.
 *   KEYS[1]  lock
 *   ARGV[1]  lock value
 *   ARGV[2]  time to live, ms
 * Returns 1 extended, 0 lost (expired, or taken by another run).
 */
const renewScript = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/*
 * Frees the lock if this run holds it; a job that has finished for good
 * (completed, or failed without retry) also leaves the order.
 *   KEYS[1]  lock
 *   KEYS[2]  order
 *   ARGV[1]  job id
 *   ARGV[2]  lock value
 *   ARGV[3]  '1' when the job has finished for good, '0' when it will be retried
 * Returns the id at the head of the order afterwards (the next deploy), or false.
 */
const releaseScript = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[2] then redis.call('DEL', KEYS[1]) end
if ARGV[3] == '1' then redis.call('LREM', KEYS[2], 0, ARGV[1]) end
return redis.call('LINDEX', KEYS[2], 0)
`);

/*
 * Drops a head that will never release (its job finished without saying so,
 * or vanished), with its lock if it still holds it. Only if it is still the head.
 *   KEYS[1]  lock
 *   KEYS[2]  order
 *   ARGV[1]  the head's job id
 * Returns the new head, or false.
 */
const dropHeadScript = defineScript(`
if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[1] then return redis.call('LINDEX', KEYS[2], 0) end
redis.call('LPOP', KEYS[2])
local holder = redis.call('GET', KEYS[1])
if holder and string.sub(holder, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ' ' then redis.call('DEL', KEYS[1]) end
return redis.call('LINDEX', KEYS[2], 0)
`);

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
