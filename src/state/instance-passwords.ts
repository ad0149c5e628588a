import { randomBytes } from 'node:crypto';
import type { RedisContext } from './redis.js';
import { instanceId, type InstanceKey } from '../core/render/names.js';
import { deleteKeys } from './delete-keys.js';

/**
 * The passwords the gateway makes for each instance on each cluster: its
 * ACL user's on the cluster's session store (`session`), its database
 * user's on the cluster's db host (`database`). Made on first need and
 * kept, so that every deploy renders the same files and sets the same
 * password; HSETNX makes two deploys racing for a new one agree.
 */
export type PasswordKind = 'session' | 'database';

const KEY = { session: 'sessionPasswords', database: 'databasePasswords' } as const;
const KIND = { session: 'session-passwords', database: 'database-passwords' } as const;

/** A new password: 24 random bytes in base64url, nothing a URL, an INI value, SQL or a shell line would read specially. */
function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

/** `<app>.<env>` → the password of each instance on `cluster`, made where missing. */
export async function readInstancePasswords(context: RedisContext, kind: PasswordKind, cluster: string, instances: readonly InstanceKey[]): Promise<Record<string, string>> {
  const { redis, keys } = context;
  const passwords: Record<string, string> = {};
  for (const i of instances) {
    const key = keys[KEY[kind]](i.app, i.env);
    await redis.hsetnx(key, cluster, newPassword());
    passwords[instanceId(i)] = (await redis.hget(key, cluster))!;
  }
  return passwords;
}

/** The instance's session store passwords (see readInstancePasswords). */
export function readSessionPasswords(context: RedisContext, cluster: string, instances: readonly InstanceKey[]): Promise<Record<string, string>> {
  return readInstancePasswords(context, 'session', cluster, instances);
}

/**
 * A new password for the instance on `cluster`, kept at once: the next
 * deploy of the instance sets it, and gives it to the app. Until then the
 * password the hosts have is kept beside it (`<cluster>:applied`, the
 * first one's when rotated twice): a deploy of another instance of the
 * cluster renders this one's files with it, and sees what changed.
 */
export async function rotateInstancePassword({ redis, keys }: RedisContext, kind: PasswordKind, instance: InstanceKey, cluster: string): Promise<void> {
  const key = keys[KEY[kind]](instance.app, instance.env);
  const current = await redis.hget(key, cluster);
  if (current !== null) await redis.hsetnx(key, `${cluster}:applied`, current);
  await redis.hset(key, cluster, newPassword());
}

/** `<app>.<env>` → the password the hosts of `cluster` have for each instance: the one before a rotation its deploy has not applied yet, else the current one (made where missing). */
export async function readAppliedPasswords(context: RedisContext, kind: PasswordKind, cluster: string, instances: readonly InstanceKey[]): Promise<Record<string, string>> {
  const passwords = await readInstancePasswords(context, kind, cluster, instances);
  for (const i of instances) {
    const applied = await context.redis.hget(context.keys[KEY[kind]](i.app, i.env), `${cluster}:applied`);
    if (applied !== null) passwords[instanceId(i)] = applied;
  }
  return passwords;
}

/** The instance's deploy set its current password on `cluster`'s hosts: the one before is forgotten. */
export async function markPasswordApplied({ redis, keys }: RedisContext, kind: PasswordKind, instance: InstanceKey, cluster: string): Promise<void> {
  await redis.hdel(keys[KEY[kind]](instance.app, instance.env), `${cluster}:applied`);
}

/**
 * Forgets the instance's password on `cluster` (its database was
 * destroyed: a new one gets a new password). The one the hosts still have
 * stays as `<cluster>:applied` until the next deploy replaces it there
 * (see rotateInstancePassword): it opens nothing any more.
 */
export async function forgetInstancePassword({ redis, keys }: RedisContext, kind: PasswordKind, instance: InstanceKey, cluster: string): Promise<void> {
  const key = keys[KEY[kind]](instance.app, instance.env);
  const current = await redis.hget(key, cluster);
  if (current !== null) await redis.hsetnx(key, `${cluster}:applied`, current);
  await redis.hdel(key, cluster);
}

/** The clusters each environment of app has a password on (every environment that has one), for apps:destroy to find what it made. */
export async function readPasswordClusters({ redis, keys }: RedisContext, kind: PasswordKind, app: string): Promise<Record<string, string[]>> {
  const prefix = keys.appPattern(KIND[kind], app).slice(0, -1);
  const found: Record<string, string[]> = {};
  let cursor = '0';
  do {
    const [next, names] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 100);
    cursor = next;
    for (const name of names) found[name.slice(prefix.length)] = [...new Set((await redis.hkeys(name)).map((f) => f.replace(/:applied$/, '')))].sort();
  } while (cursor !== '0');
  return found;
}

export async function destroyAppState({ redis, keys }: RedisContext, app: string): Promise<void> {
  await deleteKeys(redis, [keys.appPattern('session-passwords', app), keys.appPattern('database-passwords', app)]);
}

/** Removes the session store and database passwords of one environment of app (a review instance whose users and database are gone). */
export async function destroyEnvState({ redis, keys }: RedisContext, app: string, env: string): Promise<void> {
  await redis.unlink(keys.sessionPasswords(app, env), keys.databasePasswords(app, env));
}
