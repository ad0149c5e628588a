import type { InstanceKey } from './render/names.js';
import { sqlIdentifier } from './database.js';
import { checkName } from './values.js';

/**
 * Backups of an instance's database, kept on its cluster's db host: one
 * gzipped dump per file, in a root-only directory per app and environment,
 * named by the time it was captured (UTC, to the millisecond), so that the
 * names sort as the times do and nobody but Magrathea chooses them.
 */
export const BACKUP_ROOT = '/var/backups/magrathea';

/** `20250102T030405.678Z`: ISO 8601's basic format, to the millisecond. */
const ID = /^([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})\.([0-9]{3})Z$/;

export function backupId(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '');
}

export function isBackupId(text: string): boolean {
  return ID.test(text);
}

/** The time a backup id names, ISO 8601. */
export function backupTime(id: string): string {
  const m = ID.exec(id);
  if (!m) throw new Error(`${JSON.stringify(id)} is not a backup id`);
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`;
}

/** The directory of app's backups, every environment (what apps:destroy removes). */
export function appBackupDir(app: string): string {
  if (checkName(app)) throw new Error(`${JSON.stringify(app)} is not an app name`);
  return `${BACKUP_ROOT}/${app}`;
}

/** The directory of the instance's backups on its db host. */
export function backupDir(i: InstanceKey): string {
  if (checkName(i.env)) throw new Error(`${JSON.stringify(i.env)} is not an environment name`);
  return `${appBackupDir(i.app)}/${i.env}`;
}

export const BACKUP_SUFFIX = '.sql.gz';

export interface BackupEntry {
  id: string;
  /** ISO 8601, when it was captured. */
  time: string;
  bytes: number;
}

/** The listing a db host prints (`<bytes> <file name>` lines), read strictly: any other name is not a backup. Oldest first. */
export function parseBackupListing(stdout: string): BackupEntry[] {
  const entries: BackupEntry[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^([0-9]+) (.+)$/.exec(line);
    if (!m || !m[2]!.endsWith(BACKUP_SUFFIX)) continue;
    const id = m[2]!.slice(0, -BACKUP_SUFFIX.length);
    if (isBackupId(id)) entries.push({ id, time: backupTime(id), bytes: Number(m[1]) });
  }
  return entries.sort((a, b) => a.id.localeCompare(b.id));
}

/** The backups beyond the newest `keep`: what retention removes. */
export function backupsToPrune(entries: readonly BackupEntry[], keep: number): BackupEntry[] {
  const sorted = [...entries].sort((a, b) => a.id.localeCompare(b.id));
  return sorted.slice(0, Math.max(0, sorted.length - keep));
}

/** The database emptied as a new one is (utf8mb4), as root: its user's grants on it stay (they are not the database's). */
export function recreateSql(name: string): string {
  const db = sqlIdentifier(name);
  return `DROP DATABASE IF EXISTS ${db};\nCREATE DATABASE ${db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n`;
}

