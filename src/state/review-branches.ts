import type { RedisContext } from './redis.js';

/**
 * Which branch each review instance of an app belongs to. Two branches may
 * slug alike (`review/Foo`, `review/foo`): the first to push names the
 * instance, and a push of the other is refused while it exists.
 */

/** Claims `env` for `branch` (HSETNX: one step, so two pushes racing cannot both win). Returns the branch that holds it: `branch` when the claim succeeded or was already its own. */
export async function claimReviewInstance({ redis, keys }: RedisContext, app: string, env: string, branch: string): Promise<string> {
  if ((await redis.hsetnx(keys.reviewBranches(app), env, branch)) === 1) return branch;
  return (await redis.hget(keys.reviewBranches(app), env)) ?? branch;
}

/** The review instance `branch` holds, if any. */
export async function readReviewInstance({ redis, keys }: RedisContext, app: string, branch: string): Promise<string | undefined> {
  const all = await redis.hgetall(keys.reviewBranches(app));
  return Object.entries(all).find(([, b]) => b === branch)?.[0];
}

/** `env` belongs to no branch any more (its instance is gone, or its first push failed before it went live). Only if `branch` holds it. */
export async function releaseReviewInstance({ redis, keys }: RedisContext, app: string, env: string, branch: string): Promise<void> {
  if ((await redis.hget(keys.reviewBranches(app), env)) === branch) await redis.hdel(keys.reviewBranches(app), env);
}

export async function destroyAppState({ redis, keys }: RedisContext, app: string): Promise<void> {
  await redis.unlink(keys.reviewBranches(app));
}
