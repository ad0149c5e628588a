import type { RedisContext } from './redis.js';
import { destroyAccountingState } from '../accounting/store.js';
import { destroyAppState as destroyQueueState } from '../deployer/queue.js';
import { destroyDeployState } from '../deployer/redis-state.js';
import { destroyAppState as destroyConfigVars } from './config-vars.js';
import { destroyAppState as destroyHostReleases } from './host-releases.js';
import { destroyAppState as destroyReleases } from './releases.js';
import { destroyAppState as destroySessionPasswords } from './session-passwords.js';

/** Every Redis key of an app, each module removing its own. Call when no deploy of the app runs. */
export async function destroyAppKeys(context: RedisContext, app: string): Promise<void> {
  await destroyReleases(context, app);
  await destroyHostReleases(context, app);
  await destroyConfigVars(context, app);
  await destroyQueueState(context, app);
  await destroyDeployState(context, app);
  await destroyAccountingState(context, app);
  await destroySessionPasswords(context, app);
}
