import { panelIdStore } from '../state/panel-ids.js';
import type { RedisContext } from '../state/redis.js';
import type { GatewayConfig } from '../core/config/types.js';
import type { InstanceConfig } from '../core/manifest/types.js';
import { readInstanceReleases } from '../state/host-releases.js';
import { listReleaseEnvs } from '../state/releases.js';
import { hostSshSettings } from './deploy.js';
import { redisDeployState } from './redis-state.js';
import { undeployCluster } from './undeploy-cluster.js';
import { removeAppDatabases } from './undeploy-databases.js';
import { readPasswordClusters } from '../state/instance-passwords.js';

export interface UndeployAppOptions {
  app: string;
  config: GatewayConfig;
  redis: RedisContext;
  /** Progress (waiting for a lock, a failure being put back). */
  log: (line: string) => void;
  /** One line per instance removed, as each cluster finishes. */
  report: (line: string) => void;
}

/**
 * What the gateway knows is on the clusters of app, per cluster (sorted):
 * each cluster's live instances, and the clusters recorded as serving one
 * of its releases (a deploy that died between recording the switch and the
 * instance). `lost` names the clusters recorded that the configuration no
 * longer has.
 */
export async function readAppInstances(context: RedisContext, config: GatewayConfig, app: string): Promise<{ clusters: Map<string, InstanceConfig[]>; lost: string[] }> {
  const state = redisDeployState(context);
  const clusters = new Map<string, InstanceConfig[]>();
  for (const name of Object.keys(config.clusters).sort()) {
    const mine = (await state.clusterInstances(name)).filter((i) => i.app === app);
    if (mine.length > 0) clusters.set(name, mine);
  }
  const lost = new Set<string>();
  for (const env of await listReleaseEnvs(context, app)) {
    for (const [cluster, { release }] of Object.entries(await readInstanceReleases(context, app, env))) {
      if (!config.clusters[cluster]) lost.add(cluster);
      if (!config.clusters[cluster] || clusters.get(cluster)?.some((i) => i.env === env)) continue;
      const instance = await state.releaseInstance(app, env, release, cluster);
      if (instance) clusters.set(cluster, [...(clusters.get(cluster) ?? []), instance]);
    }
  }
  const sorted = [...clusters].sort(([a], [b]) => a.localeCompare(b)).map(([name, list]) => [name, list.sort((a, b) => a.env.localeCompare(b.env))] as const);
  return { clusters: new Map(sorted), lost: [...lost].sort() };
}

/**
 * Removes every instance of app from the hosts of every cluster that
 * serves it, one cluster after the other, stopping at the first that
 * fails (its error says what state its hosts are in); then, on the db
 * host of each cluster where it has or had a database (a live instance
 * with one, or a password the gateway made for one), its databases, users
 * and backups. The app's state on the gateway is the caller's to remove,
 * once this returns.
 */
export async function undeployApp(options: UndeployAppOptions): Promise<{ clusters: number; instances: number; seconds: number }> {
  const started = Date.now();
  const { clusters, lost } = await readAppInstances(options.redis, options.config, options.app);
  for (const name of lost) options.report(`${name}: no longer in the gateway configuration: what its hosts keep of ${options.app} is not removed`);
  let instances = 0;
  for (const [name, mine] of clusters) {
    const outcome = await undeployCluster({
      cluster: options.config.clusters[name]!,
      instances: mine,
      ssh: hostSshSettings(options.config),
      state: redisDeployState(options.redis),
      log: options.log,
    });
    for (const line of outcome.lines) options.report(`${line} (${outcome.seconds.toFixed(1)} s)`);
    instances += mine.length;
  }
  const databases = new Map<string, string[]>();
  const add = (cluster: string, env: string) => databases.set(cluster, [...(databases.get(cluster) ?? []), env]);
  for (const [name, mine] of clusters) for (const i of mine) if (i.database) add(name, i.env);
  for (const [env, names] of Object.entries(await readPasswordClusters(options.redis, 'database', options.app))) for (const name of names) add(name, env);
  for (const line of await removeAppDatabases({ app: options.app, config: options.config, clusters: databases, ssh: hostSshSettings(options.config), panelIds: (cluster) => panelIdStore(options.redis, cluster) })) options.report(line);
  return { clusters: clusters.size, instances, seconds: (Date.now() - started) / 1000 };
}
