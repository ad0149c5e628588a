import { sqlIdentifier } from '../core/database.js';

/**
 * How one database is dumped and loaded on its db host, as root through
 * the server's socket: argv for HostSession (or a script's "$@"). Shared by
 * every command that moves a database's content (backups, db:copy, export
 * and import).
 */

/** The client of the server's kind: MariaDB's names, else MySQL's. */
const pick = (mariadb: string, mysql: string): string =>
  `if command -v ${mariadb} >/dev/null 2>&1; then exec ${mariadb} "$@"; fi; exec ${mysql} "$@"`;

/**
 * A consistent dump of one database as SQL on stdout: one transaction
 * (InnoDB tables are read as of one instant, without locking the app out),
 * its routines and triggers, and nothing of the server: no CREATE DATABASE
 * or USE, so that it loads into any database.
 */
export function dumpArgv(database: string): string[] {
  sqlIdentifier(database);
  return ['sh', '-c', pick('mariadb-dump', 'mysqldump'), 'magrathea-dump', '--single-transaction', '--routines', '--triggers', '--no-tablespaces', '--default-character-set=utf8mb4', database];
}

/**
 * Loads SQL from stdin into one database, stopping at the first error.
 * `--binary-mode`: the client reads the dump's bytes as they are and runs
 * none of its own commands but DELIMITER (not `\!`, a shell as root): a
 * dump's text comes from the app's data.
 */
export function loadArgv(database: string): string[] {
  sqlIdentifier(database);
  return ['sh', '-c', pick('mariadb', 'mysql'), 'magrathea-load', '--binary-mode', '--batch', '--default-character-set=utf8mb4', `--database=${database}`];
}
