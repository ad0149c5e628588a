import type { RedisContext } from './redis.js';
import type { ConfigVars, EnvironmentDef } from '../core/manifest/types.js';
import { checkEnvKey, checkEnvValue } from '../core/values.js';
import { InvalidInputError } from '../core/errors.js';
import { deleteKeys } from './delete-keys.js';

/**
 * Config vars: secrets set on the gateway (`config:set app[@cluster]`),
 * never in the repository; the top layer of an instance's configuration,
 * applied by the next deploy.
 */
export async function readConfigVars({ redis, keys }: RedisContext, app: string, env: string, clusters: readonly string[]): Promise<ConfigVars> {
  const pipeline = redis.pipeline().hgetall(keys.configVars(app, env));
  for (const cluster of clusters) pipeline.hgetall(keys.configVars(app, env, cluster));
  const results = (await pipeline.exec()) ?? [];
  const [appWide, ...perCluster] = results.map(([err, value]) => {
    if (err) throw err;
    return value as Record<string, string>;
  });
  return { app: appWide ?? {}, clusters: Object.fromEntries(clusters.map((c, i) => [c, perCluster[i] ?? {}])) };
}

/**
 * The config vars an instance of `environment` is deployed with: its own,
 * and for a review instance (`review-x`) its pattern environment's
 * (`review`) beneath them.
 */
export async function readEnvironmentConfigVars(context: RedisContext, app: string, environment: Pick<EnvironmentDef, 'name' | 'clusters' | 'review'>): Promise<ConfigVars> {
  const own = await readConfigVars(context, app, environment.name, environment.clusters);
  if (!environment.review) return own;
  const name = environment.review.environment;
  return { ...own, environment: { name, ...(await readConfigVars(context, app, name, environment.clusters)) } };
}

/** Removes the config vars of one environment of app (a review instance that is gone), app-wide and per cluster. */
export async function destroyEnvState({ redis, keys }: RedisContext, app: string, env: string): Promise<void> {
  await deleteKeys(redis, [keys.envPattern('config-vars', app, env)], [keys.configVars(app, env)]);
}

/** Sets vars, all or none: every key and value is checked as the manifest's env is, first. */
export async function setConfigVars({ redis, keys }: RedisContext, app: string, env: string, cluster: string | undefined, vars: Record<string, string>): Promise<void> {
  const problems = Object.entries(vars).flatMap(([key, value]) => {
    const problem = checkEnvKey(key) ?? checkEnvValue(value);
    return problem ? [{ file: 'config:set', line: 1, col: 1, path: key, message: problem }] : [];
  });
  if (problems.length > 0) throw new InvalidInputError(problems);
  await redis.hset(keys.configVars(app, env, cluster), vars);
}

export async function unsetConfigVars({ redis, keys }: RedisContext, app: string, env: string, cluster: string | undefined, names: string[]): Promise<number> {
  return names.length === 0 ? 0 : redis.hdel(keys.configVars(app, env, cluster), ...names);
}

export async function destroyAppState({ redis, keys }: RedisContext, app: string): Promise<void> {
  await deleteKeys(redis, [keys.appPattern('config-vars', app)]);
}
