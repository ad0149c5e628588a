import type { Redis } from 'ioredis';
import type { Keys } from '../state/keys.js';
import type { DeployResult } from './job-types.js';

/**
 * A deploy's progress is one Redis stream per job: lines, progress values,
 * then exactly one final `result` or `failed` entry. A follower that comes
 * late reads it from the start; one that loses its connection resumes from
 * the last entry id it saw. Nothing is missed, unlike pub/sub.
 */
export type ProgressEvent =
  | { type: 'line'; text: string }
  | { type: 'progress'; data: unknown }
  | { type: 'result'; result: DeployResult }
  | { type: 'failed'; message: string; code: string; exitStatus: number };

export type FinalEvent = Extract<ProgressEvent, { type: 'result' | 'failed' }>;

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
export async function readFinalEvent(redis: Redis, keys: Keys, jobId: string): Promise<FinalEvent | undefined> {
  const [entry] = await redis.xrevrange(keys.deployProgress(jobId), '+', '-', 'COUNT', 1);
  const event = entry ? parseEntry(entry[1]) : undefined;
  return event?.type === 'result' || event?.type === 'failed' ? event : undefined;
}

/** A stream entry's fields (`event`, JSON) as an event; undefined for an entry this version does not know. */
export function parseEntry(fields: string[]): ProgressEvent | undefined {
  const i = fields.indexOf('event');
  if (i < 0 || i + 1 >= fields.length) return undefined;
  try {
    return JSON.parse(fields[i + 1]!) as ProgressEvent;
  } catch {
    return undefined;
  }
}
