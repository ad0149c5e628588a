import { isAbsolute } from 'node:path';
import type { Queue } from 'bullmq';
import { loadBullmq } from '../lib/bullmq.js';
import { MagratheaError } from '../core/errors.js';
import { checkName } from '../core/values.js';
import { createKeys, DEPLOY_QUEUE, type Keys } from '../state/keys.js';
import type { RedisHandle } from '../state/redis.js';
import { registerDeploy } from '../state/app-lock.js';
import { followDeploy, type FollowDeployOptions } from './follow.js';
import type { DeployJobData, DeployResult } from './job-types.js';

export interface OpenDeployQueueOptions {
  redis: RedisHandle;
  /** Key names; default `createKeys()` (prefix `magrathea`). Must match the workers'. */
  keys?: Keys;
  /** Runs of a deploy whose error is retryable (`retryable !== false`), first included. Default 3. */
  attempts?: number;
  /** Delay before the first retry, doubled at each next one. Default 5 000 ms. */
  backoffMs?: number;
  /** Errors of the queue's connection. Default: one line on stderr. */
  onError?: (error: Error) => void;
}

export interface DeployQueue {
  /** BullMQ's queue, for admin views. */
  queue: Queue<DeployJobData, DeployResult>;
  /** Queues a deploy behind the earlier ones of its app+env; returns its job id. */
  enqueueDeploy(data: DeployJobData): Promise<string>;
  /** Streams the job's progress lines to `onLine` (from its first line) and resolves with its result; rejects with DeployFailedError. */
  followDeploy(jobId: string, onLine: (line: string) => void, options?: FollowDeployOptions): Promise<DeployResult>;
  close(): Promise<void>;
}

export async function openDeployQueue(options: OpenDeployQueueOptions): Promise<DeployQueue> {
  const keys = options.keys ?? createKeys();
  const redis = options.redis.client;
  const { Queue } = await loadBullmq();
  const queue = new Queue<DeployJobData, DeployResult>(DEPLOY_QUEUE, {
    connection: options.redis.connection,
    prefix: keys.prefix,
    defaultJobOptions: {
      attempts: options.attempts ?? 3,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 5_000 },
      // Kept for `releases` and post-mortems, not forever.
      removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
      removeOnFail: { age: 30 * 24 * 3600 },
    },
  });
  queue.on('error', options.onError ?? ((e: Error) => process.stderr.write(`magrathea deploy queue: ${e.message}\n`)));
  await queue.waitUntilReady();
  let closing: Promise<void> | undefined;
  return {
    queue,
    async enqueueDeploy(data) {
      checkJobData(data);
      const job = await queue.add('deploy', data);
      // The order entry comes after the job exists, so an entry always names a real job; a worker that
      // picks the job up first registers it itself (registering is idempotent).
      try {
        await registerDeploy(redis, keys, data, job.id!);
      } catch {
        // The job is queued: failing here would make the caller queue it twice. Its worker registers it.
      }
      return job.id!;
    },
    followDeploy: (jobId, onLine, followOptions) => followDeploy({ redis: options.redis, keys, queue }, jobId, onLine, followOptions),
    close: () => (closing ??= queue.close()),
  };
}

function checkJobData(data: DeployJobData): void {
  const problems: string[] = [];
  for (const [field, value] of [['app', data.app], ['env', data.env], ...(data.clusters ?? []).map((c) => ['clusters', c] as const)] as const) {
    const problem = checkName(value);
    if (problem) problems.push(`${field}: ${problem}`);
  }
  if (!/^[0-9a-f]{7,64}$/.test(data.commit)) problems.push(`commit: ${JSON.stringify(data.commit)} is not a hex commit id`);
  if (!/^[\x21-\x7e]{1,255}$/.test(data.ref)) problems.push(`ref: ${JSON.stringify(data.ref)} is not a git ref`);
  if (!/^[\x20-\x7e]{1,100}$/.test(data.requestedBy)) problems.push(`requestedBy: ${JSON.stringify(data.requestedBy)} is not printable text of at most 100 characters`);
  if (data.rollbackTo !== undefined && !/^r[1-9][0-9]{0,15}$/.test(data.rollbackTo)) problems.push(`rollbackTo: ${JSON.stringify(data.rollbackTo)} is not a release id (r1, r2, ...)`);
  if (data.reapply !== undefined && (data.reapply !== true || data.rollbackTo === undefined)) problems.push('reapply: only true, and only with rollbackTo');
  if (!isAbsolute(data.sourcePath)) problems.push(`sourcePath: ${JSON.stringify(data.sourcePath)} is not an absolute path`);
  if (data.sourceUrl !== undefined && !/^https?:\/\/[\x21-\x7e]{1,500}$/.test(data.sourceUrl)) problems.push(`sourceUrl: ${JSON.stringify(data.sourceUrl)} is not an http URL`);
  if (data.sourceKey !== undefined && !/^[0-9a-f]{64}$/.test(data.sourceKey)) problems.push('sourceKey: not 64 hex digits');
  if (problems.length > 0) throw new MagratheaError(`invalid deploy: ${problems.join('; ')}`, 'invalid-input', 2);
}
