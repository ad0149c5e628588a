import { loadBullmq } from '../lib/bullmq.js';
import { HostSession } from '../adapters/ssh.js';
import type { GatewayConfig } from '../core/config/types.js';
import { databaseHost, databaseName } from '../core/database.js';
import { MagratheaError } from '../core/errors.js';
import { instanceId } from '../core/render/names.js';
import { scheduleStatus, startScheduledWorker } from '../lib/scheduled-job.js';
import { readClusterInstances } from '../state/cluster-instances.js';
import { BACKUP_QUEUE, createKeys, type Keys } from '../state/keys.js';
import type { RedisContext, RedisHandle } from '../state/redis.js';
import { captureBackup } from './database-backups.js';
import { withDatabaseProvider } from './database.js';
import { describe } from './deploy-cluster.js';
import { hostSshSettings } from './deploy.js';

/** The job scheduler's id: one schedule per gateway (per key prefix). */
export const BACKUP_SCHEDULER = 'db-backups';

/** One instance's outcome in a scheduled run. */
export interface BackupRunEntry {
  cluster: string;
  instance: string;
  backup?: string;
  pruned?: number;
  /** Why there is no backup: its database is gone (db:destroy), or the capture failed. */
  skipped?: string;
  error?: string;
}

export interface BackupRun {
  started: string;
  seconds: number;
  entries: BackupRunEntry[];
}

/**
 * Captures every live instance that has a database, on the db host of each
 * cluster (one SSH connection per host), keeping backups.keep of each. A
 * cluster or an instance that fails does not stop the others.
 */
export async function runBackups(config: GatewayConfig, redis: RedisContext, log?: (line: string) => void): Promise<BackupRun> {
  const began = Date.now();
  const entries: BackupRunEntry[] = [];
  for (const cluster of Object.values(config.clusters).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!cluster.db) continue;
    const instances = (await readClusterInstances(redis, cluster.name)).filter((i) => i.database).sort((a, b) => instanceId(a).localeCompare(instanceId(b)));
    if (instances.length === 0) continue;
    const host = databaseHost(cluster);
    const session = new HostSession({ name: host.name, address: host.address, user: host.ssh.user, port: host.ssh.port }, hostSshSettings(config));
    try {
      await session.open();
      await withDatabaseProvider(cluster, session, async (provider) => {
      for (const i of instances) {
        const entry: BackupRunEntry = { cluster: cluster.name, instance: instanceId(i) };
        try {
          if (!(await provider.exists(databaseName(i, cluster)))) entry.skipped = 'no database (destroyed: the next deploy makes it)';
          else {
            const { backup, pruned } = await captureBackup(session, host.name, i, databaseName(i, cluster), config.gateway.backups.keep);
            Object.assign(entry, { backup: backup.id, pruned: pruned.length });
          }
        } catch (e) {
          entry.error = describe(e);
        }
        log?.(`${cluster.name}: ${entry.instance}: ${entry.backup ? `backup ${entry.backup}` : (entry.skipped ?? `failed: ${entry.error}`)}`);
        entries.push(entry);
      }
      });
    } catch (e) {
      for (const i of instances) if (!entries.some((x) => x.cluster === cluster.name && x.instance === instanceId(i))) entries.push({ cluster: cluster.name, instance: instanceId(i), error: describe(e) });
      log?.(`${cluster.name}: ${host.name}: ${describe(e)}`);
    } finally {
      await session.close();
    }
  }
  return { started: new Date(began).toISOString(), seconds: (Date.now() - began) / 1000, entries };
}

export interface StartBackupWorkerOptions {
  redis: RedisHandle;
  keys?: Keys;
  /** Read at every run: a changed configuration (clusters, keep) is used by the next one. */
  loadConfig: () => Promise<GatewayConfig>;
  /** One line at the end of each run. */
  summary?: (line: string) => void;
  onError?: (error: Error) => void;
}

export interface BackupWorker {
  /** Milliseconds between runs; undefined: backups.schedule is not set, and nothing runs. */
  everyMs?: number;
  close(options?: { force?: boolean }): Promise<void>;
}

/**
 * With backups.schedule set: schedules the backup job at that interval
 * (BullMQ's job scheduler: one schedule however many processes call this)
 * and runs the jobs, one at a time per process. Without: removes a
 * schedule an earlier configuration left, and runs nothing.
 */
export async function startBackupWorker(options: StartBackupWorkerOptions): Promise<BackupWorker> {
  const keys = options.keys ?? createKeys();
  const onError = options.onError ?? ((e: Error) => process.stderr.write(`magrathea backups: ${e.message}\n`));
  const config = await options.loadConfig();
  const every = config.gateway.backups.scheduleSeconds;
  if (every === undefined) {
    // A schedule an earlier configuration left is removed.
    const { Queue } = await loadBullmq();
    const queue = new Queue(BACKUP_QUEUE, { connection: options.redis.connection, prefix: keys.prefix });
    queue.on('error', onError);
    await queue.removeJobScheduler(BACKUP_SCHEDULER);
    await queue.close();
    return { close: async () => undefined };
  }
  const scheduled = await startScheduledWorker<BackupRun>({
    connection: options.redis.connection,
    prefix: keys.prefix,
    queue: BACKUP_QUEUE,
    scheduler: BACKUP_SCHEDULER,
    name: 'db-backups',
    everyMs: every * 1000,
    keep: 50,
    // A capture may take long: the job's lock is renewed while it runs, and a dead worker's job runs again after this.
    lockMs: 60_000,
    onError,
    async run(job) {
      const run = await runBackups(await options.loadConfig(), { redis: options.redis.client, keys }, (line) => void job.log(line).catch(() => undefined));
      const failed = run.entries.filter((e) => e.error);
      options.summary?.(`backup run of ${run.entries.length} database(s) in ${run.seconds.toFixed(1)} s: ${run.entries.filter((e) => e.backup).length} captured, ${failed.length} failure(s)`);
      if (failed.length > 0) throw new MagratheaError(`backups: ${failed.map((e) => `${e.cluster}/${e.instance}: ${e.error}`).join('; ')}`, 'backup-failed', 1, true);
      return run;
    },
  });
  return { everyMs: every * 1000, close: scheduled.close };
}

/** The backup schedule as the queue sees it, like the accounting job's. */
export interface BackupQueueStatus {
  nextRun?: string;
  everySeconds?: number;
  workers: string[];
  counts: Record<string, number>;
  /** The last run that ended: when, and what failed. */
  last?: { finishedAt: string; captured: number; failed: string[] };
}

export async function readBackupQueueStatus(redis: RedisHandle, keys: Keys = createKeys()): Promise<BackupQueueStatus> {
  const { Queue } = await loadBullmq();
  const queue = new Queue<Record<string, never>, BackupRun>(BACKUP_QUEUE, { connection: redis.connection, prefix: keys.prefix });
  try {
    const [last] = (await queue.getJobs(['completed', 'failed'], 0, 20)).filter(Boolean).sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0));
    return {
      ...(await scheduleStatus(queue, BACKUP_SCHEDULER)),
      ...(last?.finishedOn
        ? { last: { finishedAt: new Date(last.finishedOn).toISOString(), captured: last.returnvalue?.entries.filter((e) => e.backup).length ?? 0, failed: last.failedReason ? [last.failedReason] : [] } }
        : {}),
    };
  } finally {
    await queue.close();
  }
}
