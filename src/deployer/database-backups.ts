import { start } from '../adapters/exec.js';
import { shellQuote, type HostSession } from '../adapters/ssh.js';
import { appBackupDir, BACKUP_ROOT, BACKUP_SUFFIX, backupDir, backupId, backupsToPrune, backupTime, isBackupId, parseBackupListing, recreateSql, type BackupEntry } from '../core/database-backups.js';
import { MagratheaError } from '../core/errors.js';
import type { InstanceKey } from '../core/render/names.js';
import { dumpArgv, loadArgv } from './database-dump.js';
import { databaseExists, onDatabase } from './database.js';

/**
 * Backups of an instance's database on its cluster's db host, and copies of
 * one instance's database into another's. Everything runs there as root
 * (over SSH), in directories of root's only: every directory of the path is
 * checked to be root's and no link, those of Magrathea's made 0700, files
 * made 0600 under names Magrathea chose, written to a new name (never
 * through a link) and renamed into place once complete.
 */

/**
 * capture ID N DIR... -- DUMP...
 * The first N directories must exist (root's, no link); the others are
 * made (0700) or made so. The dump goes to a new hidden file, then to
 * <last dir>/<ID>.sql.gz; prints its size. Exit 5: an unsafe directory;
 * 6: gzip or the disk failed; 7: the dump failed (its stderr says why).
 */
const CAPTURE = `
set -eu
umask 077
id=$1 n=$2
shift 2
i=0 d=
while [ "$1" != -- ]; do
  d=$1 i=$((i + 1))
  shift
  if [ "$i" -gt "$n" ] && [ ! -e "$d" ] && [ ! -L "$d" ]; then mkdir -m 700 -- "$d"; fi
  if [ -L "$d" ] || [ ! -d "$d" ] || [ "$(stat -c %u -- "$d")" != 0 ]; then
    echo "magrathea: $d is not a directory of root's (a link, or another user's): no backup" >&2
    exit 5
  fi
  if [ "$i" -gt "$n" ]; then chmod 700 -- "$d"; fi
done
shift
tmp=$d/.$id.partial file=$d/$id${BACKUP_SUFFIX}
rm -f -- "$tmp"
set -C
set +e
status=$( { { "$@" 3>&-; echo $? >&3; } | gzip -c >"$tmp" 3>&-; } 3>&1 )
gz=$?
set -e +C
if [ "$status" != 0 ]; then rm -f -- "$tmp"; exit 7; fi
if [ "$gz" != 0 ]; then rm -f -- "$tmp"; exit 6; fi
mv -T -- "$tmp" "$file"
stat -c %s -- "$file"
`;

/** list DIR: `<bytes> <name>` of each regular file there (no link followed); nothing when there is no such directory. */
const LIST = `
d=$1
if [ -L "$d" ] || [ ! -d "$d" ]; then exit 0; fi
find "$d" -mindepth 1 -maxdepth 1 -type f -printf '%s %f\\n'
`;

/** Loads gzipped SQL from stdin with "$@" (the client); exit 8: the stream was not whole gzip, else the client's status. */
const LOAD_GZ = `
set +e
status=$( { { gunzip -c 3>&-; echo $? >&3; } | "$@" 3>&- >&2; } 3>&1 )
load=$?
if [ "$status" != 0 ]; then exit 8; fi
exit $load
`;

/** restore FILE LOAD...: exit 3 when FILE is no regular file (a link neither), 4 when it is not whole gzip; else LOAD_GZ from it. */
const RESTORE = `
f=$1
shift
if [ -L "$f" ] || [ ! -f "$f" ]; then exit 3; fi
gzip -t -- "$f" 2>/dev/null || exit 4
exec <"$f"
${LOAD_GZ}`;

/** Runs "$@" (the dump) into gzip on stdout; exit 7 when the dump failed, else gzip's status. */
const DUMP_GZ = `
set +e
exec 4>&1
status=$( { { "$@" 3>&- 4>&-; echo $? >&3; } | gzip -1 >&4 3>&- 4>&-; } 3>&1 )
gz=$?
if [ "$status" != 0 ]; then exit 7; fi
exit $gz
`;

/** BACKUP_ROOT's parents, which must be root's already, then the directories Magrathea makes. */
function directories(instance: InstanceKey): { existing: string[]; own: string[] } {
  const parts = (path: string) => path.split('/').filter(Boolean).map((_, i, all) => `/${all.slice(0, i + 1).join('/')}`);
  const root = parts(BACKUP_ROOT);
  const own = parts(backupDir(instance)).slice(root.length - 1);
  return { existing: root.slice(0, -1), own };
}

function why(stderr: string, fallback: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  return lines.find((l) => /error|magrathea:/i.test(l)) ?? lines.at(-1) ?? fallback;
}

/** The instance's backups on the db host, oldest first. */
export async function listBackups(session: HostSession, instance: InstanceKey): Promise<BackupEntry[]> {
  const result = await session.exec(['sh', '-c', LIST, 'magrathea-backups-list', backupDir(instance)]);
  return parseBackupListing(result.stdout);
}

/** Removes the backups beyond the newest `keep`; returns them. */
export async function pruneBackups(session: HostSession, instance: InstanceKey, keep: number): Promise<BackupEntry[]> {
  const pruned = backupsToPrune(await listBackups(session, instance), keep);
  if (pruned.length > 0) await session.exec(['rm', '-f', '--', ...pruned.map((b) => `${backupDir(instance)}/${b.id}${BACKUP_SUFFIX}`)]);
  return pruned;
}

/**
 * A consistent dump of the instance's database (`name`), gzipped, kept on
 * the db host; then the backups beyond `keep` removed. Fails, keeping
 * nothing, when the database does not exist.
 */
export async function captureBackup(session: HostSession, host: string, instance: InstanceKey, name: string, keep: number, now = new Date()): Promise<{ backup: BackupEntry; pruned: BackupEntry[] }> {
  if (!(await databaseExists(session, host, name))) throw new MagratheaError(`database ${name} does not exist on ${host} (a deploy makes it)`, 'no-database');
  const id = backupId(now);
  const { existing, own } = directories(instance);
  const result = await session.exec(['sh', '-c', CAPTURE, 'magrathea-backup', id, String(existing.length), ...existing, ...own, '--', ...dumpArgv(name)], { reject: false, timeout: 6 * 3600_000 });
  if (result.exitCode !== 0) {
    const what = { 5: 'unsafe backup directory', 6: 'writing the backup failed', 7: 'the dump failed' }[result.exitCode] ?? `exit ${result.exitCode}`;
    throw new MagratheaError(`backup of ${name} on ${host}: ${what}: ${why(result.stderr, 'no message')}`, 'backup-failed');
  }
  const backup = { id, time: backupTime(id), bytes: Number(result.stdout.trim()) };
  return { backup, pruned: await pruneBackups(session, instance, keep) };
}

/**
 * The instance's database (`name`) replaced by a backup's content: the
 * backup checked whole first, then the database dropped and made again
 * (its user's grants stay) and the dump loaded.
 */
export async function restoreBackup(session: HostSession, host: string, instance: InstanceKey, name: string, id: string): Promise<void> {
  if (!isBackupId(id) || !(await listBackups(session, instance)).some((b) => b.id === id)) {
    throw new MagratheaError(`no backup ${id} of ${instance.app} (${instance.env}) on ${host} (db:backups:list shows them)`, 'unknown-backup');
  }
  const file = `${backupDir(instance)}/${id}${BACKUP_SUFFIX}`;
  const check = await session.exec(['sh', '-c', 'if [ -L "$1" ] || [ ! -f "$1" ]; then exit 3; fi; gzip -t -- "$1"', 'magrathea-backup-check', file], { reject: false, timeout: 3600_000 });
  if (check.exitCode !== 0) throw new MagratheaError(`backup ${id} on ${host} is ${check.exitCode === 3 ? 'gone' : 'damaged (not whole gzip)'}: the database was not touched`, 'backup-damaged');
  await onDatabase(session, host, recreateSql(name));
  const result = await session.exec(['sh', '-c', RESTORE, 'magrathea-restore', file, ...loadArgv(name)], { reject: false, timeout: 6 * 3600_000 });
  if (result.exitCode !== 0) throw new MagratheaError(`restoring ${id} into ${name} on ${host} failed (the database holds part of it: restore again): ${why(result.stderr, `exit ${result.exitCode}`)}`, 'restore-failed');
}

/** Every backup of app on the host, every environment, removed (apps:destroy). Returns how many there were. */
export async function removeAppBackups(session: HostSession, app: string): Promise<number> {
  const dir = appBackupDir(app);
  const result = await session.exec(['sh', '-c', 'if [ -L "$1" ] || [ ! -d "$1" ]; then echo 0; exit 0; fi; find "$1" -type f -name "*$2" | wc -l; rm -rf -- "$1"', 'magrathea-backups-remove', dir, BACKUP_SUFFIX]);
  return Number(result.stdout.trim()) || 0;
}

export interface CopyEnd {
  session: HostSession;
  /** The host's name, for messages. */
  host: string;
  /** The database. */
  name: string;
}

/**
 * The source database's content loaded into the target, which is dropped
 * and made again first (its user's grants stay): dumped on the source's
 * db host, gzipped, streamed through this process (the two may be on two
 * clusters), loaded on the target's.
 */
export async function copyDatabase(from: CopyEnd, to: CopyEnd): Promise<void> {
  if (!(await databaseExists(from.session, from.host, from.name))) throw new MagratheaError(`database ${from.name} does not exist on ${from.host}: nothing copied`, 'no-database');
  await onDatabase(to.session, to.host, recreateSql(to.name));
  const remote = (end: CopyEnd, argv: string[]) => start('ssh', [...end.session.options(), end.session.target.address, '--', shellQuote(argv)], { stdio: 'pipe' });
  const source = remote(from, ['sh', '-c', DUMP_GZ, 'magrathea-dump-gz', ...dumpArgv(from.name)]);
  const target = remote(to, ['sh', '-c', LOAD_GZ, 'magrathea-load-gz', ...loadArgv(to.name)]);
  let sourceErr = '';
  let targetErr = '';
  source.stderr!.on('data', (d: Buffer) => (sourceErr += d.toString()));
  target.stderr!.on('data', (d: Buffer) => (targetErr += d.toString()));
  // A target that stops reading ends the source; a source that ends closes the target's input.
  target.stdin!.on('error', () => undefined);
  source.stdout!.pipe(target.stdin!);
  const [s, t] = await Promise.all([
    source,
    target.then((r) => {
      if (r.exitCode !== 0) source.kill('SIGTERM');
      return r;
    }),
  ]);
  if (s.exitCode !== 0) throw new MagratheaError(`copy of ${from.name} on ${from.host} to ${to.name} on ${to.host}: the dump failed: ${why(sourceErr, `exit ${s.exitCode}`)}; ${to.name} holds part of it or nothing`, 'copy-failed');
  if (t.exitCode !== 0) throw new MagratheaError(`copy of ${from.name} on ${from.host} to ${to.name} on ${to.host}: loading failed: ${why(targetErr, `exit ${t.exitCode}`)}; ${to.name} holds part of it`, 'copy-failed');
}
