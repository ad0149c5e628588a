import type { RedisContext } from '../state/redis.js';
import { forgetClusterInstance, readClusterInstances, readReleaseInstance, saveClusterInstance } from '../state/cluster-instances.js';
import { withClusterLock } from '../state/cluster-lock.js';
import { readClusterReleases, recordClusterReleases } from '../state/host-releases.js';
import { markPasswordApplied, readAppliedPasswords, readInstancePasswords } from '../state/instance-passwords.js';
import { panelIdStore } from '../state/panel-ids.js';
import type { DeployState } from './types.js';

/** The deployer's state in Redis (src/state): hosts' releases, the instances live on each cluster, the cluster locks. */
export function redisDeployState(context: RedisContext): DeployState {
  return {
    async hostReleases(app, env, cluster) {
      return (await readClusterReleases(context, app, env, cluster)).hosts;
    },
    async recordSwitch(app, env, cluster, release, hosts) {
      await recordClusterReleases(context, { app, env, cluster, release, hosts: Object.fromEntries(hosts.map((h) => [h, release])) });
    },
    clusterInstances: (cluster) => readClusterInstances(context, cluster),
    saveInstance: (instance, release) => saveClusterInstance(context, instance, release),
    withClusterLock: (cluster, owner, onWait, action) => withClusterLock(context, cluster, owner, onWait, action),
    forgetInstance: (app, env, cluster) => forgetClusterInstance(context, app, env, cluster),
    sessionPasswords: (cluster, instances) => readInstancePasswords(context, 'session', cluster, instances),
    databasePasswords: (cluster, instances) => readInstancePasswords(context, 'database', cluster, instances),
    appliedDatabasePasswords: (cluster, instances) => readAppliedPasswords(context, 'database', cluster, instances),
    databasePasswordApplied: (cluster, instance) => markPasswordApplied(context, 'database', instance, cluster),
    releaseInstance: (app, env, release, cluster) => readReleaseInstance(context, app, env, release, cluster),
    panelDatabaseIds: (cluster) => panelIdStore(context, cluster),
  };
}
