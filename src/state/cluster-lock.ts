import { setTimeout as sleep } from 'node:timers/promises';
import { defineScript } from './redis-script.js';
import type { RedisContext } from './redis.js';

const CLUSTER_LOCK_MS = 30_000;

/* Extends the lock's expiry, only if `token` holds it (scripts/lock-renew.lua). */
const renewScript = defineScript('lock-renew');

/* Frees the lock, only if `token` holds it (scripts/lock-release.lua). */
const releaseScript = defineScript('lock-release');

/**
 * Runs `action` holding the cluster: its edge files are rendered from every
 * instance on it, so two deploys of different apps must not render and
 * install them at the same time (the second would drop the first's domains).
 * `owner` names the deploy (its job): a run of the same deploy restarted
 * after its worker died takes its own lock back at once. `onWait` is called
 * once, when the cluster is held by another.
 */
export async function withClusterLock<T>({ redis, keys }: RedisContext, cluster: string, owner: string, onWait: () => void, action: () => Promise<T>): Promise<T> {
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
}
