import type { RedisContext } from './redis.js';
import { destroyAppState as destroyDeployLocks } from './app-lock.js';
import { destroyAppState as destroyClusterInstances, destroyEnvState as destroyEnvInstances } from './cluster-instances.js';
import { destroyAppState as destroyConfigVars, destroyEnvState as destroyEnvConfigVars } from './config-vars.js';
import { destroyAppState as destroyHostReleases, destroyEnvState as destroyEnvHostReleases } from './host-releases.js';
import { destroyAppState as destroyReleases, destroyEnvState as destroyEnvReleases } from './releases.js';
import { destroyAppState as destroyInstancePasswords, destroyEnvState as destroyEnvPasswords } from './instance-passwords.js';
import { destroyAppState as destroyReviewBranches } from './review-branches.js';
import { destroyAccountingState } from './usage.js';

/** Every Redis key of an app, each module removing its own. Call when no deploy of the app runs. */
export async function destroyAppKeys(context: RedisContext, app: string): Promise<void> {
  await destroyReleases(context, app);
  await destroyHostReleases(context, app);
  await destroyConfigVars(context, app);
  await destroyDeployLocks(context, app);
  await destroyClusterInstances(context, app);
  await destroyAccountingState(context, app);
  await destroyInstancePasswords(context, app);
  await destroyReviewBranches(context, app);
}

/**
 * The Redis keys of one environment of app: a review instance, once it is
 * off every host. Its usage history (traffic and disk per hour and day)
 * stays, as it was counted, until it expires or the app is destroyed.
 */
export async function destroyEnvKeys(context: RedisContext, app: string, env: string): Promise<void> {
  await destroyEnvReleases(context, app, env);
  await destroyEnvHostReleases(context, app, env);
  await destroyEnvConfigVars(context, app, env);
  await destroyEnvInstances(context, app, env);
  await destroyEnvPasswords(context, app, env);
}
