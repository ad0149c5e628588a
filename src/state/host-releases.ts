import { MagratheaError } from '../core/errors.js';
import { checkName } from '../core/values.js';
import type { RedisContext } from './redis.js';
import { deleteKeys } from './delete-keys.js';

/**
 * What each host serves and what each instance (app+env@cluster) is on, as
 * the deployer recorded it when it switched. Rollback reads this rather
 * than guessing from `readlink current` on the hosts.
 */
export interface InstanceRelease {
  /** The release the instance is on (`r42`). */
  release: string;
  /** ISO 8601: when the deployer recorded the switch. */
  switchedAt: string;
}

export interface ClusterReleases {
  /** The instance's release, undefined before its first switch. */
  instance?: InstanceRelease;
  /** Host name → the release it serves. */
  hosts: Record<string, string>;
}

export interface RecordClusterReleasesOptions {
  app: string;
  env: string;
  cluster: string;
  /** Every host of the cluster → the release it now serves. Replaces what was recorded for the cluster. */
  hosts: Record<string, string>;
  /** The release the instance is now on (after a failed switch rolled back: the previous one). */
  release: string;
  /** Default now. */
  switchedAt?: Date;
}

/** Records a cluster's switch: every host's release and the instance's, in one atomic step. */
export async function recordClusterReleases({ redis, keys }: RedisContext, options: RecordClusterReleasesOptions): Promise<void> {
  const { app, env, cluster } = options;
  const entries = Object.entries(options.hosts);
  if (entries.length === 0) throw new MagratheaError(`no hosts given for ${app}@${cluster} (${env})`, 'invalid-input', 2);
  for (const [host, release] of entries) {
    const problem = checkName(host);
    if (problem) throw new MagratheaError(`host: ${problem}`, 'invalid-input', 2);
    checkReleaseId(release);
  }
  checkReleaseId(options.release);
  const instance: InstanceRelease = { release: options.release, switchedAt: (options.switchedAt ?? new Date()).toISOString() };
  const hostsKey = keys.hostReleases(app, env, cluster);
  // MULTI/EXEC: a reader sees the hosts of the cluster all before or all after the switch, never a mix.
  const results = await redis.multi()
    .del(hostsKey)
    .hset(hostsKey, Object.fromEntries(entries))
    .hset(keys.instanceReleases(app, env), cluster, JSON.stringify(instance))
    .exec();
  for (const [err] of results ?? []) if (err) throw err;
}

/** The releases of one cluster's hosts and instance. */
export async function readClusterReleases({ redis, keys }: RedisContext, app: string, env: string, cluster: string): Promise<ClusterReleases> {
  const results = await redis.multi()
    .hgetall(keys.hostReleases(app, env, cluster))
    .hget(keys.instanceReleases(app, env), cluster)
    .exec();
  const [[hostsErr, hosts], [instanceErr, instance]] = results as [[Error | null, Record<string, string>], [Error | null, string | null]];
  if (hostsErr) throw hostsErr;
  if (instanceErr) throw instanceErr;
  return { hosts, ...(instance ? { instance: JSON.parse(instance) as InstanceRelease } : {}) };
}

/** Cluster → the release each instance of app+env is on. */
export async function readInstanceReleases({ redis, keys }: RedisContext, app: string, env: string): Promise<Record<string, InstanceRelease>> {
  const hash = await redis.hgetall(keys.instanceReleases(app, env));
  return Object.fromEntries(Object.entries(hash).map(([cluster, json]) => [cluster, JSON.parse(json) as InstanceRelease]));
}

/** Removes what every host and instance of app serves, in every environment. */
export async function destroyAppState({ redis, keys }: RedisContext, app: string): Promise<void> {
  await deleteKeys(redis, [keys.appPattern('host-release', app), keys.appPattern('instance-release', app)]);
}

function checkReleaseId(id: string): void {
  if (!/^r[1-9][0-9]{0,15}$/.test(id)) throw new MagratheaError(`${JSON.stringify(id)} is not a release id (r1, r2, ...)`, 'invalid-input', 2);
}

/** Removes where one environment of app (a review instance that is gone) was recorded as live. */
export async function destroyEnvState({ redis, keys }: RedisContext, app: string, env: string): Promise<void> {
  await deleteKeys(redis, [keys.envPattern('host-release', app, env)], [keys.instanceReleases(app, env)]);
}
