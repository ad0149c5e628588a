import type { GatewayConfig } from '../core/config/types.js';
import { panelIdStore } from '../state/panel-ids.js';
import { readPasswordClusters } from '../state/instance-passwords.js';
import type { RedisContext } from '../state/redis.js';
import { hostSshSettings } from './deploy.js';
import { redisDeployState } from './redis-state.js';
import { readAppInstances } from './undeploy-app.js';
import { undeployCluster } from './undeploy-cluster.js';
import { removeAppDatabases } from './undeploy-databases.js';

export interface UndeployEnvOptions {
  app: string;
  /** The environment to take off every host: a review instance (`review-x`). */
  env: string;
  config: GatewayConfig;
  redis: RedisContext;
  /** Progress (waiting for a lock, a failure being put back). */
  log: (line: string) => void;
  /** One line per cluster removed from, and per database dropped. */
  report: (line: string) => void;
}

/**
 * One environment of app off every cluster that serves it, with the same
 * machinery as apps:destroy and instances:remove (undeployCluster: vhost,
 * pool, VCL, HAProxy backend and map entries, releases, shared files,
 * logs, unix user, session store user), one cluster after the other,
 * stopping at the first that fails; then its database and database user
 * on each cluster where it has or had one. Its database backups, if any,
 * stay on the db hosts. The gateway's state of it is the caller's to
 * remove once this returns. Idempotent: a second run finds nothing.
 */
export async function undeployEnvironment(options: UndeployEnvOptions): Promise<{ clusters: string[]; seconds: number }> {
  const started = Date.now();
  const { clusters } = await readAppInstances(options.redis, options.config, options.app);
  const removed: string[] = [];
  const databases = new Map<string, string[]>();
  for (const [name, all] of clusters) {
    const mine = all.filter((i) => i.env === options.env);
    if (mine.length === 0) continue;
    const outcome = await undeployCluster({ cluster: options.config.clusters[name]!, instances: mine, ssh: hostSshSettings(options.config), state: redisDeployState(options.redis), log: options.log });
    for (const line of outcome.lines) options.report(`${line} (${outcome.seconds.toFixed(1)} s)`);
    removed.push(name);
    if (mine.some((i) => i.database)) databases.set(name, [options.env]);
  }
  for (const name of (await readPasswordClusters(options.redis, 'database', options.app))[options.env] ?? []) databases.set(name, [options.env]);
  const lines = await removeAppDatabases({ app: options.app, config: options.config, clusters: databases, ssh: hostSshSettings(options.config), panelIds: (cluster) => panelIdStore(options.redis, cluster), keepBackups: true });
  for (const line of lines) options.report(line);
  return { clusters: removed, seconds: (Date.now() - started) / 1000 };
}
