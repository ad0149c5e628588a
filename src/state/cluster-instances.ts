import type { InstanceConfig } from '../core/manifest/types.js';
import { instanceId } from '../core/render/names.js';
import { deleteKeys } from './delete-keys.js';
import type { RedisContext } from './redis.js';

/**
 * The instances live on each cluster (every app and environment: the
 * cluster's edge files are rendered from all of them), and the
 * configuration each release went live with on each cluster (what a
 * rollback to it re-applies). The deployer's DeployState, in Redis.
 */
export async function readClusterInstances({ redis, keys }: RedisContext, cluster: string): Promise<InstanceConfig[]> {
  const all = await redis.hgetall(keys.clusterInstances(cluster));
  return Object.values(all).map((json) => JSON.parse(json) as InstanceConfig);
}

/** The instance is live with `release`: it joins its cluster's instances, and is what a rollback to `release` re-applies, in one step. */
export async function saveClusterInstance({ redis, keys }: RedisContext, instance: InstanceConfig, release: string): Promise<void> {
  const json = JSON.stringify(instance);
  const results = await redis
    .multi()
    .hset(keys.clusterInstances(instance.cluster), instanceId(instance), json)
    .hset(keys.releaseInstances(instance.app, instance.env, release), instance.cluster, json)
    .exec();
  for (const [err] of results ?? []) if (err) throw err;
}

/**
 * The instance is gone from the cluster's hosts: it leaves the cluster's
 * instances, and no host of the cluster is recorded as serving it, in one
 * step. What its releases went live with stays.
 */
export async function forgetClusterInstance({ redis, keys }: RedisContext, app: string, env: string, cluster: string): Promise<void> {
  const results = await redis
    .multi()
    .hdel(keys.clusterInstances(cluster), instanceId({ app, env }))
    .del(keys.hostReleases(app, env, cluster))
    .hdel(keys.instanceReleases(app, env), cluster)
    .exec();
  for (const [err] of results ?? []) if (err) throw err;
}

/** The configuration `release` went live with on `cluster`, if it ever did. */
export async function readReleaseInstance({ redis, keys }: RedisContext, app: string, env: string, release: string, cluster: string): Promise<InstanceConfig | undefined> {
  const json = await redis.hget(keys.releaseInstances(app, env, release), cluster);
  return json ? (JSON.parse(json) as InstanceConfig) : undefined;
}

/** Removes an app's instances from every cluster's registry (the next deploy on a cluster drops them from its edge files). */
export async function destroyAppState({ redis, keys }: RedisContext, app: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', keys.everyClusterInstances(), 'COUNT', 100);
    cursor = next;
    for (const key of found) {
      const fields = (await redis.hkeys(key)).filter((f) => f.startsWith(`${app}.`));
      if (fields.length > 0) await redis.hdel(key, ...fields);
    }
  } while (cursor !== '0');
  await deleteKeys(redis, [keys.appPattern('release-instances', app)]);
}

/** Removes what one environment of app (a review instance that is gone) went live with; its place among the cluster's instances went with forgetClusterInstance. */
export async function destroyEnvState({ redis, keys }: RedisContext, app: string, env: string): Promise<void> {
  await deleteKeys(redis, [keys.envPattern('release-instances', app, env)]);
}
