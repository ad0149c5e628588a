import type { Redis } from 'ioredis';
import type { DeployEvent } from '../core/deploy-event.js';
import type { Keys } from './keys.js';
import type { RedisHandle } from './redis.js';

/**
 * A deploy's progress is one Redis stream per job: events (each with its
 * line, if it has one), lines, progress values,
 * then exactly one final `result` or `failed` entry. A follower that comes
 * late reads it from the start; one that loses its connection resumes from
 * the last entry id it saw. Nothing is missed, unlike pub/sub.
 *
 * `R`: what the job returns (the deployer's DeployResult), JSON only.
 */
export type ProgressEvent<R = unknown> =
  | { type: 'line'; text: string }
  | { type: 'event'; event: DeployEvent }
  | { type: 'progress'; data: unknown }
  | { type: 'result'; result: R }
  | { type: 'failed'; message: string; code: string; exitStatus: number };

export type FinalEvent<R = unknown> = Extract<ProgressEvent<R>, { type: 'result' | 'failed' }>;

/** How long a job's stream is kept after its last entry: a week, like its BullMQ record. */
export const PROGRESS_TTL_SECONDS = 7 * 24 * 3600;
// A runaway processor must not fill Redis: the oldest lines go first (approximate trim is O(1)).
const MAX_ENTRIES = 10_000;

export async function appendProgress(redis: Redis, keys: Keys, jobId: string, event: ProgressEvent): Promise<void> {
  const key = keys.deployProgress(jobId);
  const results = await redis.multi()
    .xadd(key, 'MAXLEN', '~', MAX_ENTRIES, '*', 'event', JSON.stringify(event))
    .expire(key, PROGRESS_TTL_SECONDS)
    .exec();
  for (const [err] of results ?? []) if (err) throw err;
}

/** The job's final entry, when its end was already recorded (a re-run must not deploy again). */
export async function readFinalEvent<R = unknown>(redis: Redis, keys: Keys, jobId: string): Promise<FinalEvent<R> | undefined> {
  const [entry] = await redis.xrevrange(keys.deployProgress(jobId), '+', '-', 'COUNT', 1);
  const event = entry ? parseEntry<R>(entry[1]) : undefined;
  return event?.type === 'result' || event?.type === 'failed' ? event : undefined;
}

/** A stream entry's fields (`event`, JSON) as an event; undefined for an entry this version does not know. */
export function parseEntry<R = unknown>(fields: string[]): ProgressEvent<R> | undefined {
  const i = fields.indexOf('event');
  if (i < 0 || i + 1 >= fields.length) return undefined;
  try {
    return JSON.parse(fields[i + 1]!) as ProgressEvent<R>;
  } catch {
    return undefined;
  }
}

/** Reads one job's progress stream from its first entry on, each read going on after the last entry read. */
export interface ProgressReader<R = unknown> {
  /**
   * The next entries (at most 100), each as parseEntry reads it (undefined:
   * an entry this version does not know). With `blockMs`, waits that long
   * for one when there is none yet; without, returns at once. Rejects once
   * the reader is closed.
   */
  read(blockMs?: number): Promise<(ProgressEvent<R> | undefined)[]>;
  /** Closes its connection; a read waiting on it rejects. */
  close(): void;
}

export function openProgressReader<R = unknown>(handle: RedisHandle, keys: Keys, jobId: string): ProgressReader<R> {
  const key = keys.deployProgress(jobId);
  // XREAD BLOCK holds its connection: one of our own, closed by close().
  const reader = handle.duplicate();
  let lastId = '0-0';
  return {
    async read(blockMs) {
      const args = blockMs === undefined ? [] : ['BLOCK', blockMs];
      const reply = (await reader.xread('COUNT', 100, ...(args as ['BLOCK', number]), 'STREAMS', key, lastId)) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      return entries.map(([entryId, fields]) => {
        lastId = entryId;
        return parseEntry<R>(fields);
      });
    },
    close: () => reader.disconnect(),
  };
}
