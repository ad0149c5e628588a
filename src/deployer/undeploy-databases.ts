import { HostSession, type SshSettings } from '../adapters/ssh.js';
import type { GatewayConfig } from '../core/config/types.js';
import { databaseHost, databaseName, databaseUser } from '../core/database.js';
import { MagratheaError } from '../core/errors.js';
import { describe } from './deploy-cluster.js';
import { databaseProvider } from './database.js';
import { removeAppBackups } from './database-backups.js';

export interface AppDatabasesInput {
  app: string;
  config: GatewayConfig;
  /** Cluster → the environments of app that may have a database there (live instances with one, passwords the gateway made). */
  clusters: Map<string, string[]>;
  ssh: SshSettings;
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
      const provider = databaseProvider(cluster, session);
      for (const env of [...new Set(envs)].sort()) {
        const instance = { app: input.app, env };
        const credentials = { name: databaseName(instance), user: databaseUser(instance) };
        const dropped = await provider.drop(credentials);
        const words = [...(dropped.database ? [`database ${credentials.name}`] : []), ...(dropped.user ? [`db user ${credentials.user}`] : [])];
        if (words.length > 0) lines.push(`${name} ${input.app}.${env}: ${host.name}: ${words.join(', ')}`);
      }
      const backups = await removeAppBackups(session, input.app);
      if (backups > 0) lines.push(`${name} ${input.app}: ${host.name}: ${backups} database backup(s)`);
    } catch (e) {
      throw new MagratheaError(`${name}: ${host.name}: removing the databases of ${input.app}: ${describe(e)}`, 'destroy-failed', 1, true, { cause: e });
    } finally {
      await session.close();
    }
  }
  return lines;
}
