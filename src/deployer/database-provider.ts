import type { DatabaseCredentials } from '../core/database.js';

/** What a drop found: whether there was a database, and a user (at any address). */
export interface Dropped {
  database: boolean;
  user: boolean;
}

/**
 * What Magrathea asks of a cluster's database server about an instance's
 * database and user, whoever provides them: this module's direct SQL over
 * SSH now; a control panel's API (the panel creates databases and users
 * itself, and applies them within a minute) is meant to answer the same
 * calls. What moves data (db:shell, export, import, backups, copy) runs the
 * client on the db host whoever made the database, so it is not here.
 */
export interface DatabaseProvider {
  /** The database and user exist, with these credentials, reachable from `clients` only. */
  ensure(credentials: DatabaseCredentials, clients: readonly string[]): Promise<void>;
  /** The database exists. */
  exists(name: string): Promise<boolean>;
  /** The database and its user gone. */
  drop(credentials: Pick<DatabaseCredentials, 'name' | 'user'>): Promise<Dropped>;
  /** Bytes each named database holds; one that does not exist is absent. */
  sizes(names: readonly string[]): Promise<Record<string, number>>;
  /** Ends what the provider opened (a panel's session); the SSH session stays the caller's. */
  close(): Promise<void>;
}
