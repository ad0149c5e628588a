import { HostSession, type SshSettings } from '../adapters/ssh.js';
import type { GatewayConfig } from '../core/config/types.js';
import { databaseHost, databaseName, databaseUser } from '../core/database.js';
import { MagratheaError } from '../core/errors.js';
import { describe } from './deploy-cluster.js';
import { withDatabaseProvider } from './database.js';
import type { PanelIdStore } from '../state/panel-ids.js';
import { removeAppBackups } from './database-backups.js';

export interface AppDatabasesInput {
  app: string;
  config: GatewayConfig;
  /** Cluster → the environments of app that may have a database there (live instances with one, passwords the gateway made). */
  clusters: Map<string, string[]>;
  ssh: SshSettings;
  /** Where the panel's ids of a cluster's databases are kept (src/state/panel-ids.ts), forgotten as they are deleted. */
  panelIds?: (cluster: string) => PanelIdStore;
  /** Leave the app's backups on the db hosts (one review instance removed, the app stays). Default: removed with the app. */
  keepBackups?: boolean;
}

/**
 * On the db host of each cluster given: the app's database and user in
 * each environment dropped, and every backup of the app removed. Returns
 * one line per cluster and environment where something was, in the words
 * of undeployCluster's summary. Idempotent: a second run finds nothing.
 */
export async function removeAppDatabases(input: AppDatabasesInput): Promise<string[]> {
  const lines: string[] = [];
  for (const [name, envs] of [...input.clusters].sort(([a], [b]) => a.localeCompare(b))) {
    const cluster = input.config.clusters[name];
    if (!cluster?.db) continue;
    const host = databaseHost(cluster);
    const session = new HostSession({ name: host.name, address: host.address, user: host.ssh.user, port: host.ssh.port }, input.ssh);
    try {
      await session.open();
      await withDatabaseProvider(cluster, session, async (provider) => {
        for (const env of [...new Set(envs)].sort()) {
          const instance = { app: input.app, env };
          const credentials = { name: databaseName(instance, cluster), user: databaseUser(instance, cluster) };
          const dropped = await provider.drop(credentials);
          const words = [...(dropped.database ? [`database ${credentials.name}`] : []), ...(dropped.user ? [`db user ${credentials.user}`] : [])];
          if (words.length > 0) lines.push(`${name} ${input.app}.${env}: ${host.name}: ${words.join(', ')}`);
        }
      }, { ...(input.panelIds ? { ids: input.panelIds(name) } : {}) });
      const backups = input.keepBackups ? 0 : await removeAppBackups(session, input.app);
      if (backups > 0) lines.push(`${name} ${input.app}: ${host.name}: ${backups} database backup(s)`);
    } catch (e) {
      throw new MagratheaError(`${name}: ${host.name}: removing the databases of ${input.app}: ${describe(e)}`, 'destroy-failed', 1, true, { cause: e });
    } finally {
      await session.close();
    }
  }
  return lines;
}
