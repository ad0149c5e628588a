import type { RedisContext } from '../adapters/redis.js';
import type { InstanceConfig } from '../core/manifest/types.js';
import { instanceId } from '../core/render/names.js';
import { readClusterReleases, recordClusterReleases } from '../state/host-releases.js';
import type { DeployState } from './types.js';

/** The deployer's state in Redis: hosts' releases (src/state) and the instances live on each cluster. */
export function redisDeployState(context: RedisContext): DeployState {
  const { redis, keys } = context;
  return {
    async hostReleases(app, env, cluster) {
      return (await readClusterReleases(context, app, env, cluster)).hosts;
    },
    async recordSwitch(app, env, cluster, release, hosts) {
      await recordClusterReleases(context, { app, env, cluster, release, hosts: Object.fromEntries(hosts.map((h) => [h, release])) });
    },
    async clusterInstances(cluster) {
      const all = await redis.hgetall(keys.clusterInstances(cluster));
      return Object.values(all).map((json) => JSON.parse(json) as InstanceConfig);
    },
    async saveInstance(instance, release) {
      const json = JSON.stringify(instance);
      const results = await redis
        .multi()
        .hset(keys.clusterInstances(instance.cluster), instanceId(instance), json)
        .hset(keys.releaseInstances(instance.app, instance.env, release), instance.cluster, json)
        .exec();
      for (const [err] of results ?? []) if (err) throw err;
    },
    async releaseInstance(app, env, release, cluster) {
      const json = await redis.hget(keys.releaseInstances(app, env, release), cluster);
      return json ? (JSON.parse(json) as InstanceConfig) : undefined;
    },
  };
}
