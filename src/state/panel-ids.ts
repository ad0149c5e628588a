import type { RedisContext } from './redis.js';

/** The ids of an instance's database and its user in a cluster's ISPConfig panel (`web_database`, `web_database_user`). */
export interface PanelIds {
  database: number;
  user: number;
}

/** The panel's ids by database name, for one cluster. */
export interface PanelIdStore {
  get(name: string): Promise<PanelIds | undefined>;
  set(name: string, ids: PanelIds): Promise<void>;
  delete(name: string): Promise<void>;
}

/**
 * Where Magrathea keeps the panel's ids of the databases it made through
 * a cluster's panel: the next deploy, db:destroy and apps:destroy find
 * them by id (a name changed in the panel is still the same record), and
 * by name when an id is missing or no longer names that database.
 */
export function panelIdStore(context: RedisContext, cluster: string): PanelIdStore {
  const key = context.keys.panelDatabaseIds(cluster);
  return {
    async get(name) {
      const text = await context.redis.hget(key, name);
      if (!text) return undefined;
      const ids = JSON.parse(text) as Partial<PanelIds>;
      return Number.isInteger(ids.database) && Number.isInteger(ids.user) ? { database: ids.database!, user: ids.user! } : undefined;
    },
    async set(name, ids) {
      await context.redis.hset(key, name, JSON.stringify({ database: ids.database, user: ids.user }));
    },
    async delete(name) {
      await context.redis.hdel(key, name);
    },
  };
}

/** What a login to a cluster's panel found (`ok`, or the one-line error), when, and with which settings (a digest of URL, user and password). */
export interface PanelLogin {
  fingerprint: string;
  login: string;
  at: string;
}

/** The last login `status` made to the cluster's panel, if it is recent and was made with the same settings. */
export async function recentPanelLogin(context: RedisContext, cluster: string, fingerprint: string): Promise<PanelLogin | undefined> {
  const known = JSON.parse((await context.redis.get(context.keys.panelLogin(cluster))) ?? 'null') as PanelLogin | null;
  return known?.fingerprint === fingerprint ? known : undefined;
}

/** Remembers a login's outcome for `seconds`. */
export async function recordPanelLogin(context: RedisContext, cluster: string, login: PanelLogin, seconds: number): Promise<void> {
  await context.redis.set(context.keys.panelLogin(cluster), JSON.stringify(login), 'EX', seconds);
}
