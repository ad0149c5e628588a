import { HostSession } from '../../adapters/ssh.js';
import type { ClusterConfig, HostConfig } from '../../core/config/types.js';
import { databaseCredentials, databaseHost, type DatabaseCredentials } from '../../core/database.js';
import { InvalidInputError, MagratheaError, UsageError } from '../../core/errors.js';
import { resolveInstance } from '../../core/manifest/resolve.js';
import { databaseProvider, type DatabaseProvider } from '../../deployer/database.js';
import { hostSshSettings } from '../../deployer/deploy.js';
import type { CommandContext } from '../../dispatch/command.js';
import { readEnvironmentConfigVars } from '../../state/config-vars.js';
import { panelIdStore } from '../../state/panel-ids.js';
import { readAppliedPasswords, readInstancePasswords } from '../../state/instance-passwords.js';
import { appEnvironment, existingTarget } from '../targets.js';

/** One instance's database, as the db:* commands reach it: its cluster, its db host (a session open to it), its credentials. */
export interface DatabaseTarget {
  app: string;
  env: string;
  cluster: ClusterConfig;
  host: HostConfig;
  /** With the password the db host has now: after db:rotate, the one before until the next deploy sets the new one. */
  credentials: DatabaseCredentials;
  /** db:rotate made a new password that no deploy set yet. */
  rotated: boolean;
  /** SSH to the db host, opened; close() when done. */
  session: HostSession;
  /** The cluster's database provider, over `session`. */
  provider: DatabaseProvider;
  close(): Promise<void>;
}

/**
 * `APP@CLUSTER` (a cluster is needed: each has its own database) of an
 * environment (`--env`, default the one the default branch feeds), which
 * must declare a database and be on a cluster with a db host. The password
 * is the one the db host has (made now if no deploy made it yet): after
 * db:rotate, the one before, which works until the next deploy.
 */
export async function databaseTarget(ctx: CommandContext, command: string, text: string, env: string | undefined): Promise<DatabaseTarget> {
  const { app, cluster: clusterName } = await existingTarget(ctx, command, text);
  const { manifest, environment } = await appEnvironment(ctx, app, env);
  if (clusterName === undefined) throw new UsageError(`${command}: name the cluster, as in ${app}@${environment.clusters[0]}: each cluster has its own database (${environment.clusters.join(', ')})`);
  if (!environment.clusters.includes(clusterName)) throw new UsageError(`${command}: ${app} (${environment.name}) is not on cluster ${clusterName}; its clusters: ${environment.clusters.join(', ')}`);
  const config = await ctx.config();
  const cluster = config.clusters[clusterName];
  if (!cluster) throw new MagratheaError(`${command}: no cluster ${clusterName} in ${config.dir}/clusters.yml`, 'unknown-cluster');
  const gateway = await ctx.gateway();
  const resolved = resolveInstance(manifest, { app, env: environment.name, cluster: clusterName }, await readEnvironmentConfigVars(gateway.state, app, environment));
  if ('problems' in resolved) throw new InvalidInputError(resolved.problems);
  if (!resolved.instance.database) throw new MagratheaError(`${command}: ${app} (${environment.name}) has no database on ${clusterName} (database.engine in its magrathea.yml)`, 'no-database');
  if (!cluster.db) throw new MagratheaError(`${command}: cluster ${clusterName} has no host of role db in clusters.yml`, 'no-db-host');
  const host = databaseHost(cluster);
  const instance = { app, env: environment.name };
  const id = `${app}.${environment.name}`;
  const kept = (await readInstancePasswords(gateway.state, 'database', clusterName, [instance]))[id]!;
  const password = (await readAppliedPasswords(gateway.state, 'database', clusterName, [instance]))[id]!;
  const session = new HostSession({ name: host.name, address: host.address, user: host.ssh.user, port: host.ssh.port }, hostSshSettings(config));
  await session.open();
  const provider = databaseProvider(cluster, session, { ids: panelIdStore(gateway.state, clusterName) });
  return { app, env: environment.name, cluster, host, credentials: databaseCredentials(instance, { ...cluster, db: cluster.db }, password), rotated: kept !== password, session, provider, close: async () => { await provider.close(); await session.close(); } };
}
