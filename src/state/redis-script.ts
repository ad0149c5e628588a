import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** A Lua script run atomically by Redis: `keys` are its KEYS, `args` its ARGV. */
export type RedisScript = (redis: Redis, keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

/** The Lua scripts, each `scripts/<name>.lua` beside this module (what each takes and returns is at its top). */
export type ScriptName =
  | 'lock-renew'
  | 'lock-release'
  | 'release-mark-status'
  | 'deploy-order-register'
  | 'deploy-order-drop-head'
  | 'app-lock-acquire'
  | 'app-lock-release'
  | 'commit-traffic'
  | 'record-disk';

/**
 * Wraps the Lua script `scripts/<name>.lua` for EVALSHA, falling back to
 * EVAL when the server does not know it: a restarted Redis (or another
 * server behind REDIS_URL) has an empty script cache, and a deploy must
 * survive that. The file is read once, here: modules define their scripts
 * when they load. From the sources (tests) it is the one in src/; built,
 * the copy `npm run build` puts in dist/ (tsc copies no .lua).
 */
export function defineScript(name: ScriptName): RedisScript {
  const lua = readFileSync(new URL(`./scripts/${name}.lua`, import.meta.url), 'utf8');
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
