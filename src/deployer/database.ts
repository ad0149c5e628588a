import type { HostSession } from '../adapters/ssh.js';
import type { ClusterConfig } from '../core/config/types.js';
import { databaseHost, dropSql, existsSql, provisionSql, sizesSql, staleUsersSql, userHostsSql, type DatabaseCredentials } from '../core/database.js';
import { MagratheaError } from '../core/errors.js';
import type { DatabaseProvider, Dropped } from './database-provider.js';
import { panelDatabaseProvider, type PanelProviderOptions } from './ispconfig-database.js';

/**
 * The database provider that talks to the server itself: SQL run by the
 * MariaDB (or MySQL) client on the cluster's db host, over SSH, as root
 * through the server's unix socket (Debian's MariaDB and Ubuntu's MySQL
 * let root in that way, and never over the network). The SQL travels on
 * stdin: no password is on any command line. Another provider (a control
 * panel's API) would offer the same three calls.
 */
const CLIENT = ['sh', '-c', 'if command -v mariadb >/dev/null 2>&1; then exec mariadb "$@"; fi; exec mysql "$@"', 'magrathea-db', '--batch', '--skip-column-names', '--default-character-set=utf8mb4'];

/** Runs `sql` on the db host; its rows, one array of columns each. Fails with the server's words, naming the host. */
export async function onDatabase(session: HostSession, host: string, sql: string): Promise<string[][]> {
  const result = await session.exec(CLIENT, { input: sql, reject: false });
  if (result.exitCode !== 0) {
    const why = result.stderr.trim().split('\n').find((l) => /^ERROR/.test(l)) ?? (result.stderr.trim() || `exit ${result.exitCode}`);
    throw new MagratheaError(`database on ${host}: ${why}`, 'database-failed', 1, /Can't connect|Lost connection|gone away/.test(why));
  }
  return result.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

/**
 * The instance's database and user exist as they should (see
 * provisionSql), and its user can log in from the web hosts' addresses
 * only: a user left at an address that is no longer one is dropped.
 */
async function ensureDatabase(session: HostSession, host: string, credentials: DatabaseCredentials, clients: readonly string[]): Promise<void> {
  await onDatabase(session, host, provisionSql(credentials, clients));
  const existing = (await onDatabase(session, host, userHostsSql(credentials.user))).map((row) => row[0]!);
  const stale = staleUsersSql(credentials.user, existing, clients);
  if (stale) await onDatabase(session, host, stale);
}

/** The database exists on the host. */
export async function databaseExists(session: HostSession, host: string, name: string): Promise<boolean> {
  return (await onDatabase(session, host, existsSql(name))).length > 0;
}

/** The instance's database and every account of its user gone: whether each was there. */
async function dropDatabase(session: HostSession, host: string, credentials: Pick<DatabaseCredentials, 'name' | 'user'>): Promise<Dropped> {
  const database = await databaseExists(session, host, credentials.name);
  const hosts = (await onDatabase(session, host, userHostsSql(credentials.user))).map((row) => row[0]!);
  await onDatabase(session, host, dropSql(credentials, hosts));
  return { database, user: hosts.length > 0 };
}

/** Bytes each named database holds (data and indexes); a database without tables holds 0, one that does not exist is absent. */
async function databaseSizes(session: HostSession, host: string, names: readonly string[]): Promise<Record<string, number>> {
  const rows = await onDatabase(session, host, sizesSql(names));
  const sizes: Record<string, number> = {};
  for (const [name, bytes] of rows) sizes[name!] = Number(bytes);
  return sizes;
}

/**
 * The provider of a cluster's databases, over `session` (open to its db
 * host): the panel's API where clusters.yml gives the cluster an
 * `ispconfig:` panel, else SQL on the db host. The one place that chooses:
 * every caller (deploys, the db:* commands, apps:destroy, accounting,
 * backups) asks here, and close()s it when its operation is done.
 */
export function databaseProvider(cluster: Pick<ClusterConfig, 'name' | 'hosts' | 'db' | 'ispconfig'>, session: HostSession, options: PanelProviderOptions = {}): DatabaseProvider {
  const host = databaseHost(cluster).name;
  const direct: DatabaseProvider = {
    ensure: (credentials, clients) => ensureDatabase(session, host, credentials, clients),
    exists: (name) => databaseExists(session, host, name),
    drop: (credentials) => dropDatabase(session, host, credentials),
    sizes: (names) => databaseSizes(session, host, names),
    close: async () => undefined,
  };
  const { ispconfig } = cluster;
  return ispconfig ? panelDatabaseProvider({ ...cluster, ispconfig }, session, direct, options) : direct;
}

/** Runs `action` with the cluster's provider, closed after it whatever happens. */
export async function withDatabaseProvider<T>(cluster: Pick<ClusterConfig, 'name' | 'hosts' | 'db' | 'ispconfig'>, session: HostSession, action: (provider: DatabaseProvider) => Promise<T>, options: PanelProviderOptions = {}): Promise<T> {
  const provider = databaseProvider(cluster, session, options);
  try {
    return await action(provider);
  } finally {
    await provider.close();
  }
}

export type { DatabaseProvider, Dropped } from './database-provider.js';
