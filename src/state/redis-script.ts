import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script run atomically by Redis: `keys` are its KEYS, `args` its ARGV. */
export type RedisScript = (redis: Redis, keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

/**
 * Wraps a Lua script for EVALSHA, falling back to EVAL when the server does
 * not know it: a restarted Redis (or another server behind REDIS_URL) has an
 * empty script cache, and a deploy must survive that.
 */
export function defineScript(lua: string): RedisScript {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (redis, keys, args) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
      return redis.eval(lua, keys.length, ...keys, ...args);
    }
  };
}
