import type { Queue, Worker } from 'bullmq';
import { loadBullmq } from '../lib/bullmq.js';
import { ACCOUNTING_QUEUE, createKeys, type Keys } from '../state/keys.js';
import type { RedisHandle } from '../state/redis.js';
import type { GatewayConfig } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';
import { scheduleStatus, startScheduledWorker, type ScheduleStatus } from '../lib/scheduled-job.js';
import { runAccounting, type AccountingRun } from './run-accounting.js';

/** The job scheduler's id: one schedule per gateway (per key prefix). */
export const ACCOUNTING_SCHEDULER = 'accounting';

/** What an accounting job returns: per host, what it counted (BullMQ keeps it with the job). */
export type AccountingJobResult = AccountingRun;

export interface StartAccountingWorkerOptions {
  redis: RedisHandle;
  /** Key names; default `createKeys()`. */
  keys?: Keys;
  /** Read at every run, so that a changed configuration (hosts, paths, interval) is used by the next run. */
  loadConfig: () => Promise<GatewayConfig>;
  /** Milliseconds between runs. Default: the configuration's `accounting.interval`. */
  everyMs?: number;
  /** Passed to runAccounting (tests use small steps). */
  chunkBytes?: number;
  /** BullMQ's job lock: a run whose worker died is run again after about this long. Default 30 000 ms. */
  lockDurationMs?: number;
  /** Each progress line of each run. Default: none (they go to the job's log). */
  log?: (line: string) => void;
  /** One line at the end of each run: hosts, lines counted, failures. Default: `log`. */
  summary?: (line: string) => void;
  onError?: (error: Error) => void;
}

export interface AccountingWorker {
  worker: Worker<Record<string, never>, AccountingJobResult>;
  queue: Queue<Record<string, never>, AccountingJobResult>;
  close(options?: { force?: boolean }): Promise<void>;
}

/**
 * Schedules the accounting job every interval (BullMQ's job scheduler:
 * one schedule however many workers call this) and runs the jobs, one at a
 * time per worker. A worker killed during a run: BullMQ runs the job again
 * elsewhere once its lock expires, and the run goes on from the committed
 * cursors, counting nothing twice.
 */
export async function startAccountingWorker(options: StartAccountingWorkerOptions): Promise<AccountingWorker> {
  const keys = options.keys ?? createKeys();
  const config = await options.loadConfig();
  return startScheduledWorker<AccountingJobResult>({
    connection: options.redis.connection,
    prefix: keys.prefix,
    queue: ACCOUNTING_QUEUE,
    scheduler: ACCOUNTING_SCHEDULER,
    name: 'accounting',
    everyMs: options.everyMs ?? config.gateway.accounting.intervalSeconds * 1000,
    keep: 100,
    lockMs: options.lockDurationMs ?? 30_000,
    onError: options.onError ?? ((e: Error) => process.stderr.write(`magrathea accounting: ${e.message}\n`)),
    // A failed run is not retried at once: the next one goes on from where it stopped.
    async run(job) {
      const run = await runAccounting({
        config: await options.loadConfig(),
        redis: { redis: options.redis.client, keys },
        chunkBytes: options.chunkBytes,
        log: (line) => {
          options.log?.(line);
          void job.log(line).catch(() => undefined);
        },
      });
      const failed = run.visits.filter((v) => v.error);
      (options.summary ?? options.log)?.(`accounting run of ${run.visits.length} host(s) in ${run.seconds.toFixed(1)} s: ${run.visits.reduce((n, v) => n + v.lines, 0)} edge log line(s), ${failed.length} failure(s)`);
      if (failed.length > 0) throw new MagratheaError(`accounting: ${failed.map((v) => `${v.cluster}/${v.host}: ${v.error}`).join('; ')}`, 'accounting-failed', 1, true);
      return run;
    },
  });
}

/** The accounting schedule as the queue sees it: when the next run is due, who runs the jobs, what is waiting or failed. */
export type AccountingQueueStatus = ScheduleStatus;

export async function readAccountingQueueStatus(redis: RedisHandle, keys: Keys = createKeys()): Promise<AccountingQueueStatus> {
  const { Queue } = await loadBullmq();
  const queue = new Queue(ACCOUNTING_QUEUE, { connection: redis.connection, prefix: keys.prefix });
  try {
    return await scheduleStatus(queue, ACCOUNTING_SCHEDULER);
  } finally {
    await queue.close();
  }
}
