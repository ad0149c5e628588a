import { randomBytes } from 'node:crypto';
import type { RedisContext } from './redis.js';
import { instanceId, type InstanceKey } from '../core/render/names.js';
import { deleteKeys } from './delete-keys.js';

/**
 * Each instance's password on its cluster's session store: made on first
 * need and kept, so that every deploy renders the same pool and re-creates
 * the same ACL user. HSETNX makes two deploys racing for a new one agree.
 * Returns `<app>.<env>` → password.
 */
export async function readSessionPasswords({ redis, keys }: RedisContext, cluster: string, instances: readonly InstanceKey[]): Promise<Record<string, string>> {
  const passwords: Record<string, string> = {};
  for (const i of instances) {
    const key = keys.sessionPasswords(i.app, i.env);
    // 24 random bytes in base64url: no character that a URL query, an INI value or a redis-cli line would read specially.
    await redis.hsetnx(key, cluster, randomBytes(24).toString('base64url'));
    passwords[instanceId(i)] = (await redis.hget(key, cluster))!;
  }
  return passwords;
}

export async function destroyAppState({ redis, keys }: RedisContext, app: string): Promise<void> {
  await deleteKeys(redis, [keys.appPattern('session-passwords', app)]);
}
