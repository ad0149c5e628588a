import type { Queue } from 'bullmq';
import { eventLine, type DeployEvent } from '../core/deploy-event.js';
import { MagratheaError } from '../core/errors.js';
import type { Keys } from '../state/keys.js';
import type { RedisHandle } from '../state/redis.js';
import { DeployFailedError, type DeployJobData, type DeployResult } from './job-types.js';
import { openProgressReader } from '../state/progress.js';

export interface FollowDeployOptions {
  /** Called with each structured progress value the processor reports. */
  onProgress?: (progress: unknown) => void;
  /** Called with each event of the deploy, instead of onLine with the event's line: for a follower that shows the events themselves. */
  onEvent?: (event: DeployEvent) => void;
  /** Stops following (the deploy goes on); the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How long one read waits for a new line before the job's state is checked, ms. Default 1 000. */
  pollMs?: number;
}

export interface FollowContext {
  redis: RedisHandle;
  keys: Keys;
  queue: Queue<DeployJobData, DeployResult>;
}

/**
 * Reads the job's progress stream from its first entry, blocking for new
 * ones, until its final entry. Between reads it asks BullMQ about the job:
 * a job that ended without a final entry (failed by the stalled check after
 * its workers kept dying) or that does not exist still ends the follow.
 */
export async function followDeploy(context: FollowContext, jobId: string, onLine: (line: string) => void, options: FollowDeployOptions = {}): Promise<DeployResult> {
  const reader = openProgressReader<DeployResult>(context.redis, context.keys, jobId);
  const abort = () => reader.close();
  options.signal?.addEventListener('abort', abort);
  // Hands entries to the callbacks; returns the final event's outcome once it is read.
  const readEntries = async (block: number | undefined): Promise<Outcome | undefined> => {
    const events = await reader.read(block);
    for (const event of events) {
      if (event?.type === 'line') onLine(event.text);
      else if (event?.type === 'event') {
        const line = eventLine(event.event);
        if (options.onEvent) options.onEvent(event.event);
        else if (line !== undefined) onLine(line);
      }
      else if (event?.type === 'progress') options.onProgress?.(event.data);
      else if (event?.type === 'result') return { result: event.result };
      else if (event?.type === 'failed') return { error: new DeployFailedError(event.message, event.code, event.exitStatus) };
    }
    return events.length === 0 ? undefined : { more: true };
  };
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      let outcome = await readEntries(options.pollMs ?? 1_000);
      if (!outcome) {
        const ended = await readEnd(context, jobId);
        // It ended between two reads: what it wrote meanwhile comes first, its own final entry wins.
        if (ended) {
          while ((outcome = await readEntries(undefined)) && 'more' in outcome);
          outcome ??= ended;
        }
      }
      if (outcome && 'result' in outcome) return outcome.result;
      if (outcome && 'error' in outcome) throw outcome.error;
    }
  } catch (e) {
    options.signal?.throwIfAborted();
    if (e instanceof MagratheaError) throw e;
    // Redis gone for longer than ioredis retries: the deploy itself goes on without us.
    throw new MagratheaError(`lost track of deploy ${jobId}: ${(e as Error).message}; the deploy goes on, follow it again`, 'follow-failed', 1, true, { cause: e });
  } finally {
    options.signal?.removeEventListener('abort', abort);
    reader.close();
  }
}

type Outcome = { result: DeployResult } | { error: Error } | { more: true };

/** The job's outcome when BullMQ says it ended (or is gone); undefined while it runs or waits. */
async function readEnd(context: FollowContext, jobId: string): Promise<Outcome | undefined> {
  const job = await context.queue.getJob(jobId);
  if (!job) return { error: new MagratheaError(`no deploy job ${jobId} (unknown, or removed)`, 'deploy-not-found') };
  const state = await job.getState();
  if (state === 'failed') return { error: new DeployFailedError(job.failedReason || `deploy ${jobId} failed`) };
  if (state === 'completed') return { result: job.returnvalue };
  return undefined;
}
