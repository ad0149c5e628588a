import { setTimeout as sleep } from 'node:timers/promises';
import { defineScript } from '../state/redis-script.js';
import type { RedisContext } from '../state/redis.js';
import type { InstanceConfig } from '../core/manifest/types.js';
import { instanceId } from '../core/render/names.js';
import { deleteKeys } from '../state/delete-keys.js';
import { readClusterReleases, recordClusterReleases } from '../state/host-releases.js';
import { readSessionPasswords } from '../state/session-passwords.js';
import type { DeployState } from './types.js';

const CLUSTER_LOCK_MS = 30_000;

/*
 * Extends the lock's expiry, only if `token` holds it.
 *   KEYS[1] the lock; ARGV[1] token; ARGV[2] milliseconds.  Returns 1 when extended.
 */
const renewScript = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/*
 * Frees the lock, only if `token` holds it.
 *   KEYS[1] the lock; ARGV[1] token.  Returns 1 when freed.
 */
const releaseScript = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

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
    async withClusterLock(cluster, owner, onWait, action) {
      const key = keys.clusterLock(cluster);
      const token = owner;
      let told = false;
      while ((await redis.set(key, token, 'PX', CLUSTER_LOCK_MS, 'NX')) !== 'OK' && (await redis.get(key)) !== token) {
        if (!told) onWait();
        told = true;
        await sleep(200);
      }
      // Renewed while held; it expires on its own if this process dies.
      const renewal = setInterval(() => void renewScript(redis, [key], [token, CLUSTER_LOCK_MS]).catch(() => undefined), CLUSTER_LOCK_MS / 3);
      try {
        return await action();
      } finally {
        clearInterval(renewal);
        await releaseScript(redis, [key], [token]);
      }
    },
    async forgetInstance(app, env, cluster) {
      const results = await redis
        .multi()
        .hdel(keys.clusterInstances(cluster), instanceId({ app, env }))
        .del(keys.hostReleases(app, env, cluster))
        .hdel(keys.instanceReleases(app, env), cluster)
        .exec();
      for (const [err] of results ?? []) if (err) throw err;
    },
    sessionPasswords(cluster, instances) {
      return readSessionPasswords(context, cluster, instances);
    },
    async releaseInstance(app, env, release, cluster) {
      const json = await redis.hget(keys.releaseInstances(app, env, release), cluster);
      return json ? (JSON.parse(json) as InstanceConfig) : undefined;
    },
  };
}

/** Removes an app's instances from every cluster's registry (the next deploy on a cluster drops them from its edge files). */
export async function destroyDeployState({ redis, keys }: RedisContext, app: string): Promise<void> {
  let cursor = '0';
  do {
    // Cluster names are checked by the key builder: build one and swap its name for the glob.
    const [next, found] = await redis.scan(cursor, 'MATCH', keys.clusterInstances('x').replace(/x$/, '*'), 'COUNT', 100);
    cursor = next;
    for (const key of found) {
      const fields = (await redis.hkeys(key)).filter((f) => f.startsWith(`${app}.`));
      if (fields.length > 0) await redis.hdel(key, ...fields);
    }
  } while (cursor !== '0');
  await deleteKeys(redis, [keys.appPattern('release-instances', app)]);
}
