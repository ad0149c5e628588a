import type { RedisContext } from './redis.js';
import { destroyAppState as destroyDeployLocks } from './app-lock.js';
import { destroyAppState as destroyClusterInstances } from './cluster-instances.js';
import { destroyAppState as destroyConfigVars } from './config-vars.js';
import { destroyAppState as destroyHostReleases } from './host-releases.js';
import { destroyAppState as destroyReleases } from './releases.js';
import { destroyAppState as destroyInstancePasswords } from './instance-passwords.js';
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
}
