import { hostname } from 'node:os';
import type { ConnectionOptions, Job, Queue, Worker } from 'bullmq';
import { loadBullmq } from './bullmq.js';
import { readyWorker } from './ready-worker.js';

/** Where a queue lives: BullMQ's connection and key prefix. */
export interface QueuePlace {
  connection: ConnectionOptions;
  prefix: string;
}

export interface ScheduledJobOptions<R> extends QueuePlace {
  queue: string;
  /** The job scheduler's id: one schedule per gateway (per key prefix), however many processes call this. */
  scheduler: string;
  /** The jobs' name, as BullMQ shows them. */
  name: string;
  everyMs: number;
  /** Finished jobs BullMQ keeps, completed and failed each. */
  keep: number;
  /** BullMQ's job lock (renewed while a job runs): a job whose worker died runs again elsewhere after about this long. */
  lockMs: number;
  onError(error: Error): void;
  run(job: Job<Record<string, never>, R>): Promise<R>;
}

export interface ScheduledWorker<R> {
  queue: Queue<Record<string, never>, R>;
  worker: Worker<Record<string, never>, R>;
  close(options?: { force?: boolean }): Promise<void>;
}

/**
 * A job run every `everyMs` (BullMQ's job scheduler: one schedule however
 * many processes call this; a changed interval replaces it) and a worker of
 * this process for it, one job at a time. A failed run is not retried at
 * once: the next one comes at its time. What the accounting and backup
 * jobs share.
 */
export async function startScheduledWorker<R>(options: ScheduledJobOptions<R>): Promise<ScheduledWorker<R>> {
  const place = { connection: options.connection, prefix: options.prefix };
  const { Queue, Worker } = await loadBullmq();
  const queue = new Queue<Record<string, never>, R>(options.queue, place);
  queue.on('error', options.onError);
  await queue.upsertJobScheduler(options.scheduler, { every: options.everyMs }, {
    name: options.name,
    data: {},
    opts: { attempts: 1, removeOnComplete: { count: options.keep }, removeOnFail: { count: options.keep } },
  });
  const worker = new Worker<Record<string, never>, R>(options.queue, options.run, {
    ...place,
    name: `${hostname()}:${process.pid}`,
    concurrency: 1,
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
  });
  return { queue, worker, close: await readyWorker(worker, queue, options.onError) };
}

/** A schedule as the queue sees it: when the next run is due, who runs the jobs, what is waiting or failed. */
export interface ScheduleStatus {
  /** ISO 8601; undefined when no process has scheduled the job. */
  nextRun?: string;
  everySeconds?: number;
  workers: string[];
  counts: Record<string, number>;
}

/** Reads the schedule `scheduler` of `queue` (open, not closed here). */
export async function scheduleStatus(queue: Queue, scheduler: string): Promise<ScheduleStatus> {
  const found = await queue.getJobScheduler(scheduler);
  return {
    ...(found?.next ? { nextRun: new Date(found.next).toISOString() } : {}),
    ...(found?.every ? { everySeconds: Number(found.every) / 1000 } : {}),
    workers: (await queue.getWorkers()).map((w) => w.name ?? w.id ?? '?').sort(),
    counts: await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed'),
  };
}
