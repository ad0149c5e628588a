import { randomUUID } from 'node:crypto';
import { eventMaker } from '../core/deploy-event.js';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job, Queue, Worker } from 'bullmq';
import { loadBullmq } from '../lib/bullmq.js';
import { createKeys, DEPLOY_QUEUE, type Keys } from '../state/keys.js';
import type { RedisContext, RedisHandle } from '../state/redis.js';
import { readyWorker } from '../lib/ready-worker.js';
import { acquireAppLock, dropOrderHead, lockValue, releaseAppLock, renewAppLock, type AppEnv } from '../state/app-lock.js';
import type { DeployJobData, DeployProcessor, DeployResult } from './job-types.js';
import { appendProgress, readFinalEvent } from '../state/progress.js';

export interface StartDeployWorkerOptions {
  redis: RedisHandle;
  /** Key names; default `createKeys()` (prefix `magrathea`). Must match the queue's. */
  keys?: Keys;
  /** Runs one deploy (the real one is the deployer's; tests inject their own). */
  processor: DeployProcessor;
  /** Deploys this worker runs at once, of different apps or environments. Default 4. */
  concurrency?: number;
  /** BullMQ's job lock: how long a killed worker's job stays active before the stalled check hands it to another worker. Default 30 000 ms. */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (of any worker). Default 30 000 ms. */
  stalledIntervalMs?: number;
  /** Times a job may be found stalled (its worker died) and run again before it fails. Default 2. */
  maxStalledCount?: number;
  /** How long an app+env deploy lock outlives a dead worker; renewed every third of it while the deploy runs. Default 30 000 ms. */
  appLockMs?: number;
  /** How often a deploy waiting for its app+env looks again, besides being woken when the deploy ahead ends. Default 1 000 ms. */
  waitPollMs?: number;
  /** Errors of the worker itself (lost connection...). Default: one line on stderr. */
  onError?: (error: Error) => void;
}

export interface DeployWorker {
  /** BullMQ's worker, for its events. */
  worker: Worker<DeployJobData, DeployResult>;
  /**
   * Stops taking jobs, waits for running deploys to end, closes connections.
   * With `force`, does not wait: the deploys it ran are run again by another
   * worker once their locks expire (every deploy step is idempotent).
   */
  close(options?: { force?: boolean }): Promise<void>;
}

/** Starts a BullMQ worker of the deploy queue that runs `processor` one deploy at a time per app+env, FIFO. */
export async function startDeployWorker(options: StartDeployWorkerOptions): Promise<DeployWorker> {
  const keys = options.keys ?? createKeys();
  const redis = options.redis.client;
  const appLockMs = options.appLockMs ?? 30_000;
  const waitPollMs = options.waitPollMs ?? 1_000;
  const onError = options.onError ?? ((e: Error) => process.stderr.write(`magrathea deploy worker: ${e.message}\n`));
  // Jobs are looked up (to wake the next deploy, to tell a dead head) through a queue of our own.
  const bull = await loadBullmq();
  const queue = new bull.Queue<DeployJobData, DeployResult>(DEPLOY_QUEUE, { connection: options.redis.connection, prefix: keys.prefix });
  queue.on('error', onError);
  const context: RunContext = { redis, keys, bull, queue, processor: options.processor, appLockMs, waitPollMs, waiting: new Map(), name: `${hostname()}:${process.pid}` };
  const worker = new bull.Worker<DeployJobData, DeployResult>(DEPLOY_QUEUE, (job, token) => runJob(context, job, token), {
    connection: options.redis.connection,
    prefix: keys.prefix,
    name: context.name,
    concurrency: options.concurrency ?? 4,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 2,
  });
  return { worker, close: await readyWorker(worker, queue, onError) };
}

interface RunContext extends RedisContext {
  bull: typeof import('bullmq');
  queue: Queue<DeployJobData, DeployResult>;
  processor: DeployProcessor;
  appLockMs: number;
  waitPollMs: number;
  /** Job id → the job it last said it waits for, so that "waiting for" is said once per change. */
  waiting: Map<string, string>;
  name: string;
}

async function runJob(context: RunContext, job: Job<DeployJobData, DeployResult>, token: string | undefined): Promise<DeployResult> {
  const { redis, keys } = context;
  const id = job.id!;
  const appEnv: AppEnv = { app: job.data.app, env: job.data.env };
  const value = lockValue(id, token ?? randomUUID());

  // A run that starts again after its end was recorded (its worker died before BullMQ heard): do not deploy twice.
  const recorded = await readFinalEvent<DeployResult>(redis, keys, id);
  if (recorded) {
    await wakeNext(context, await releaseAppLock(redis, keys, appEnv, id, value, true));
    if (recorded.type === 'result') return recorded.result;
    throw new context.bull.UnrecoverableError(recorded.message);
  }

  const lock = await acquireAppLock(redis, keys, appEnv, id, value, context.appLockMs);
  if (!lock.taken) {
    const blocker = 'ahead' in lock ? lock.ahead : `an earlier run of ${id}`;
    if (context.waiting.get(id) !== blocker) {
      // Entries of jobs that went on elsewhere are never deleted here: forget them all now and then.
      if (context.waiting.size > 10_000) context.waiting.clear();
      context.waiting.set(id, blocker);
      const message = 'ahead' in lock ? `waiting for deploy ${lock.ahead} of ${appEnv.app} (${appEnv.env}) to end` : 'waiting for the lock of an earlier run of this deploy to expire';
      await appendProgress(redis, keys, id, { type: 'event', event: { phase: 'queue', status: 'info', elapsedMs: 0, message } });
    }
    if ('ahead' in lock) await dropIfFinished(context, appEnv, lock.ahead);
    // Back to BullMQ's delayed set, freeing this worker slot for other apps. Nothing may be awaited between
    // these two lines: BullMQ stops tracking the job only once the processor has thrown.
    await job.moveToDelayed(Date.now() + context.waitPollMs, token);
    throw new context.bull.DelayedError();
  }
  context.waiting.delete(id);

  const aborter = new AbortController();
  const renewal = setInterval(() => {
    renewAppLock(redis, keys, appEnv, value, context.appLockMs).then(
      (held) => { if (!held) aborter.abort(new Error(`deploy ${id} lost its lock on ${appEnv.app} (${appEnv.env})`)); },
      () => {}, // Redis unreachable: the next tick tries again; the lock outlives a few misses.
    );
  }, Math.max(10, Math.floor(context.appLockMs / 3)));
  const attempt = job.attemptsMade + 1;
  const makeEvent = eventMaker(Date.now());
  let result: DeployResult;
  try {
    const started = `deploy ${id} of ${appEnv.app} (${appEnv.env}) started on ${context.name}, attempt ${attempt}${job.stalledCounter > 0 ? ', run again after its worker stopped' : ''}`;
    await appendProgress(redis, keys, id, { type: 'event', event: makeEvent(started, { phase: 'queue', status: 'started' }, Date.now()) });
    result = await context.processor({
      id,
      data: job.data,
      attempt,
      signal: aborter.signal,
      log: async (text, meta) => {
        const event = makeEvent(text, meta, Date.now());
        await Promise.all([appendProgress(redis, keys, id, { type: 'event', event }), event.line === false ? undefined : job.log(text)]);
      },
      progress: async (data) => {
        await Promise.all([appendProgress(redis, keys, id, { type: 'progress', data }), job.updateProgress(data as object)]);
      },
    });
  } catch (error) {
    clearInterval(renewal);
    throw await recordFailure(context, job, appEnv, value, error);
  }
  clearInterval(renewal);
  await appendProgress(redis, keys, id, { type: 'result', result });
  await wakeNext(context, await releaseAppLock(redis, keys, appEnv, id, value, true));
  return result;
}

/** Records a failed run for followers, frees the lock, and returns what to throw to BullMQ. */
async function recordFailure(context: RunContext, job: Job<DeployJobData, DeployResult>, appEnv: AppEnv, value: string, error: unknown): Promise<Error> {
  const { redis, keys } = context;
  const id = job.id!;
  const err = error instanceof Error ? error : new Error(String(error));
  // Duck-typed: a MagratheaError, or any error carrying the same fields.
  const { retryable: retry, code: errCode, exitStatus: errStatus } = err as { retryable?: unknown; code?: unknown; exitStatus?: unknown };
  const retryable = retry !== false && !(err instanceof context.bull.UnrecoverableError);
  const finished = !retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  const code = typeof errCode === 'string' ? errCode : 'deploy-failed';
  const exitStatus = typeof errStatus === 'number' ? errStatus : 1;
  await appendProgress(redis, keys, id, finished
    ? { type: 'failed', message: err.message, code, exitStatus }
    : { type: 'line', text: `attempt ${job.attemptsMade + 1} failed, will retry: ${err.message}` });
  const next = await releaseAppLock(redis, keys, appEnv, id, value, finished);
  if (finished) await wakeNext(context, next);
  return retryable ? err : new context.bull.UnrecoverableError(err.message);
}

/**
 * Promotes the next deploy of the app+env out of its wait, so it starts now
 * rather than at its next poll. It may still be active (about to be delayed):
 * a few quick tries cover that; the poll covers the rest.
 */
async function wakeNext(context: RunContext, next: string | undefined): Promise<void> {
  if (!next) return;
  for (let i = 0; i < 5; i++) {
    try {
      const job = await context.queue.getJob(next);
      if (!job) return;
      await job.promote();
      return;
    } catch {
      await sleep(20);
    }
  }
}

/** A head whose job has ended (or vanished) without leaving the order would block its app+env forever. */
async function dropIfFinished(context: RunContext, appEnv: AppEnv, headId: string): Promise<void> {
  const state = await context.queue.getJobState(headId);
  if (state === 'completed' || state === 'failed' || state === 'unknown') {
    await dropOrderHead(context.redis, context.keys, appEnv, headId);
  }
}
