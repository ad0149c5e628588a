import { createHash } from 'node:crypto';
import type { ClusterConfig } from './config/types.js';
import type { AppDatabase, InstanceConfig } from './manifest/types.js';
import { unixUser, type InstanceKey } from './render/names.js';

/**
 * An instance's database on its cluster's db host: its name and its user's
 * (the instance's unix user name: at most 32 characters, which MySQL's user
 * names allow, and never the same for two instances), where the app reaches
 * it, and the password the gateway keeps.
 */
export interface DatabaseCredentials {
  host: string;
  port: number;
  name: string;
  user: string;
  password: string;
}

/** What decides the names on a cluster: whether a panel makes its databases. */
export type NamingCluster = Pick<ClusterConfig, 'ispconfig'>;

/** The instance's database name on `cluster`: its unix user's, in the panel's alphabet on a panel's cluster (see panelSafeName). */
export function databaseName(i: InstanceKey, cluster: NamingCluster): string {
  return cluster.ispconfig ? panelSafeName(unixUser(i)) : unixUser(i);
}

/** The instance's database user on `cluster`: the same as its database's name. */
export function databaseUser(i: InstanceKey, cluster: NamingCluster): string {
  return databaseName(i, cluster);
}

/**
 * A name ISPConfig accepts for a database and its user: its forms' rule is
 * `^[a-zA-Z0-9_]{2,64}$`, and MySQL's user names stop at 32 characters. A
 * name that already fits is kept; else dashes become underscores and,
 * since an underscore also separates app and environment (`a-b` in `c`
 * and `a` in `b-c` would both give `m_a_b_c`), the last 9 characters are
 * `_` and a hash of the full name, which keeps two instances apart.
 */
export function panelSafeName(name: string): string {
  if (/^[A-Za-z0-9_]{2,32}$/.test(name)) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 23)}_${hash}`;
}

/** The credentials of `instance` on `cluster`'s db host (at `address:port`), with its password. */
export function databaseCredentials(instance: InstanceKey, cluster: NamingCluster & { db: { address: string; port: number } }, password: string): DatabaseCredentials {
  return { host: cluster.db.address, port: cluster.db.port, name: databaseName(instance, cluster), user: databaseUser(instance, cluster), password };
}

/** The variables the app gets, under the names its manifest chose. */
export function databaseEnv(database: AppDatabase, c: DatabaseCredentials): Record<string, string> {
  const url = `mysql://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${c.port}/${encodeURIComponent(c.name)}`;
  const values = { url, host: c.host, port: String(c.port), name: c.name, user: c.user, password: c.password };
  return Object.fromEntries(Object.entries(database.vars).map(([field, name]) => [name, values[field as keyof typeof values]]));
}

/** Whether the instance has a database of Magrathea's. */
export function hasDatabase(instance: Pick<InstanceConfig, 'database'>): instance is { database: AppDatabase } {
  return instance.database !== undefined;
}

/** A MySQL string literal: quotes and backslashes escaped (NO_BACKSLASH_ESCAPES or not, '' and \\ read alike). */
export function sqlString(text: string): string {
  if (/[\0\n\r\x1a]/.test(text)) throw new Error('a control character in an SQL string');
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/** A MySQL identifier in backticks. Only the names Magrathea makes reach here; a backtick in one would be a bug. */
export function sqlIdentifier(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new Error(`${JSON.stringify(name)} is not a database identifier Magrathea makes`);
  return `\`${name}\``;
}

/**
 * What makes the database and its user exist as they should, idempotently:
 * the database (utf8mb4), the user at each address the cluster's web hosts
 * connect from, its password set (the one kept on the gateway: a rotated
 * one takes effect here), and every privilege on its own database and
 * nothing else. Users of the same name at other addresses are dropped
 * separately (see staleUsersSql).
 */
export function provisionSql(c: DatabaseCredentials, clients: readonly string[]): string {
  const db = sqlIdentifier(c.name);
  const lines = [`CREATE DATABASE IF NOT EXISTS ${db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;`];
  for (const client of clients) {
    const account = `${sqlString(c.user)}@${sqlString(client)}`;
    lines.push(
      `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${sqlString(c.password)};`,
      `ALTER USER ${account} IDENTIFIED BY ${sqlString(c.password)};`,
      `GRANT ALL PRIVILEGES ON ${db}.* TO ${account};`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The addresses an instance's user may log in from: each web host's (its
 * egress, else its address), and the db host's own, where db:shell and
 * db:import run the client, connecting to the server's address as the web
 * hosts do (a host's connection to its own address comes from that address;
 * the lab's hosts, which share the loopback, all come from their egress).
 */
export function databaseClients(cluster: Pick<ClusterConfig, 'hosts' | 'db'>): string[] {
  const from = (h: ClusterConfig['hosts'][number]) => h.egress ?? h.address;
  const web = cluster.hosts.filter((h) => h.roles.includes('web')).map(from);
  const db = cluster.hosts.find((h) => h.name === cluster.db?.host);
  return [...new Set([...web, ...(db ? [from(db)] : [])])];
}

/** The cluster's host of role db, as clusters.yml declares it (validation made sure it is one of its hosts). */
export function databaseHost(cluster: Pick<ClusterConfig, 'hosts' | 'db'>): ClusterConfig['hosts'][number] {
  const host = cluster.hosts.find((h) => h.name === cluster.db?.host);
  if (!host) throw new Error(`no db host among the cluster's hosts (${cluster.db?.host ?? 'none declared'})`);
  return host;
}

/** One row when the database exists. */
export function existsSql(name: string): string {
  return `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${sqlString(name)};\n`;
}

/** The addresses `user` may connect from now, one per line (`mariadb -N -B`). */
export function userHostsSql(user: string): string {
  return `SELECT Host FROM mysql.user WHERE User = ${sqlString(user)};\n`;
}

/** Drops `user` at the addresses that are no longer the cluster's web hosts'. */
export function staleUsersSql(user: string, existing: readonly string[], clients: readonly string[]): string {
  return existing.filter((h) => !clients.includes(h)).map((h) => `DROP USER IF EXISTS ${sqlString(user)}@${sqlString(h)};\n`).join('');
}

/** The database and every user of the instance: what apps:destroy and db:destroy run. */
export function dropSql(c: Pick<DatabaseCredentials, 'name' | 'user'>, hosts: readonly string[]): string {
  return [`DROP DATABASE IF EXISTS ${sqlIdentifier(c.name)};`, ...hosts.map((h) => `DROP USER IF EXISTS ${sqlString(c.user)}@${sqlString(h)};`)].join('\n') + '\n';
}

/** The size in bytes of each database named (data and indexes), as `name<TAB>bytes` lines. */
export function sizesSql(names: readonly string[]): string {
  if (names.length === 0) return 'SELECT 1 WHERE FALSE;\n';
  return `SELECT table_schema, COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema IN (${names.map(sqlString).join(', ')}) GROUP BY table_schema;\n`;
}
