import { MagratheaError } from '../core/errors.js';
import { defineScript } from './redis-script.js';
import type { RedisContext } from './redis.js';
import { deleteKeys } from './delete-keys.js';

/**
 * Release history of each app+environment: what `magrathea releases APP`
 * lists and what `rollback` picks from. Ids come from a per-app+env counter
 * (`r1`, `r2`, ...), so they also order releases.
 */
export const RELEASE_STATUSES = ['building', 'prepared', 'live', 'failed', 'rolled-back'] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

export interface Release {
  id: string;
  number: number;
  app: string;
  env: string;
  /** The commit built, full hex sha. */
  commit: string;
  /** The ref pushed or asked for (`refs/heads/master`). */
  ref: string;
  /** ISO 8601. */
  createdAt: string;
  /** The user (SSH key owner, CLI user) who asked for it. */
  requestedBy: string;
  status: ReleaseStatus;
  /** ISO 8601, the last status change. */
  updatedAt: string;
  /** Why the status is what it is, for humans (a failure's one line). */
  message?: string;
  /** The deploy job that built it. */
  jobId?: string;
}

export interface RecordReleaseOptions {
  app: string;
  env: string;
  commit: string;
  ref: string;
  requestedBy: string;
  /** Default `building`. */
  status?: ReleaseStatus;
  jobId?: string;
  /** Default now. */
  createdAt?: Date;
}

/** Records a new release with the next id of its app+env. */
export async function recordRelease({ redis, keys }: RedisContext, options: RecordReleaseOptions): Promise<Release> {
  const { app, env } = options;
  checkText('commit', options.commit, /^[0-9a-f]{7,64}$/, 'a hex commit id');
  checkText('ref', options.ref, /^[\x21-\x7e]{1,255}$/, 'a git ref');
  checkText('requestedBy', options.requestedBy, /^[\x20-\x7e]{1,100}$/, 'printable text of at most 100 characters');
  const status = checkStatus(options.status ?? 'building');
  // The number is taken on its own (INCR is atomic): a crash before the record below only skips a number.
  const number = await redis.incr(keys.releaseCounter(app, env));
  const id = `r${number}`;
  const createdAt = (options.createdAt ?? new Date()).toISOString();
  const release: Release = {
    id, number, app, env, commit: options.commit, ref: options.ref, createdAt, requestedBy: options.requestedBy,
    status, updatedAt: createdAt, ...(options.jobId ? { jobId: options.jobId } : {}),
  };
  // The record, its place in the history and the env index in one step: never a listed id without its record.
  const results = await redis.multi()
    .hset(keys.release(app, env, id), toHash(release))
    .lpush(keys.releaseList(app, env), id)
    .sadd(keys.releaseEnvs(app), env)
    .exec();
  for (const [err] of results ?? []) if (err) throw err;
  return release;
}

export async function readRelease({ redis, keys }: RedisContext, app: string, env: string, id: string): Promise<Release | undefined> {
  const hash = await redis.hgetall(keys.release(app, env, id));
  return Object.keys(hash).length > 0 ? fromHash(hash) : undefined;
}

export interface ListReleasesOptions {
  /** At most this many, newest first. Default 50. */
  limit?: number;
}

/** The releases of app+env, newest first. */
export async function listReleases({ redis, keys }: RedisContext, app: string, env: string, options: ListReleasesOptions = {}): Promise<Release[]> {
  const ids = await redis.lrange(keys.releaseList(app, env), 0, (options.limit ?? 50) - 1);
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hgetall(keys.release(app, env, id));
  const hashes = (await pipeline.exec()) ?? [];
  // By number: two records racing may push their ids out of order (deploys of one app+env take turns, so they never race).
  return hashes
    .flatMap(([err, hash]) => {
      if (err) throw err;
      return Object.keys(hash as object).length > 0 ? [fromHash(hash as Record<string, string>)] : [];
    })
    .sort((a, b) => b.number - a.number);
}

/** The environments of app that have releases, sorted. */
export async function listReleaseEnvs({ redis, keys }: RedisContext, app: string): Promise<string[]> {
  return (await redis.smembers(keys.releaseEnvs(app))).sort();
}

/* Sets a release's status only if the release exists (scripts/release-mark-status.lua). */
const markStatusScript = defineScript('release-mark-status');

export interface MarkReleaseStatusOptions {
  app: string;
  env: string;
  id: string;
  status: ReleaseStatus;
  /** Why, for humans; default none (an earlier message is removed). */
  message?: string;
}

export async function markReleaseStatus(context: RedisContext, options: MarkReleaseStatusOptions): Promise<Release> {
  const { app, env, id } = options;
  const status = checkStatus(options.status);
  const set = await markStatusScript(context.redis, [context.keys.release(app, env, id)], [status, new Date().toISOString(), options.message ?? '']);
  if (set !== 1) throw new MagratheaError(`release ${id} of ${app} (${env}) not found`, 'release-not-found');
  return (await readRelease(context, app, env, id))!;
}

/** Removes the release history of every environment of app. Call when no deploy of app runs. */
export async function destroyAppState({ redis, keys }: RedisContext, app: string): Promise<void> {
  await deleteKeys(redis, [keys.appPattern('release', app), keys.appPattern('releases', app), keys.appPattern('release-seq', app)], [keys.releaseEnvs(app)]);
}

function checkStatus(status: string): ReleaseStatus {
  if (!(RELEASE_STATUSES as readonly string[]).includes(status)) {
    throw new MagratheaError(`unknown release status ${JSON.stringify(status)}; expected one of ${RELEASE_STATUSES.join(', ')}`, 'invalid-input', 2);
  }
  return status as ReleaseStatus;
}

function checkText(field: string, value: string, pattern: RegExp, expected: string): void {
  if (!pattern.test(value)) throw new MagratheaError(`release ${field} ${JSON.stringify(value)} is not ${expected}`, 'invalid-input', 2);
}

function toHash(release: Release): Record<string, string> {
  return Object.fromEntries(Object.entries(release).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
}

function fromHash(hash: Record<string, string>): Release {
  return {
    id: hash.id!, number: Number(hash.number), app: hash.app!, env: hash.env!, commit: hash.commit!, ref: hash.ref!,
    createdAt: hash.createdAt!, requestedBy: hash.requestedBy!, status: hash.status as ReleaseStatus, updatedAt: hash.updatedAt!,
    ...(hash.message ? { message: hash.message } : {}),
    ...(hash.jobId ? { jobId: hash.jobId } : {}),
  };
}

/** Removes the releases of one environment of app (a review instance that is gone) and takes it out of the app's environments. */
export async function destroyEnvState({ redis, keys }: RedisContext, app: string, env: string): Promise<void> {
  await deleteKeys(redis, [keys.envPattern('release', app, env)], [keys.releaseList(app, env), keys.releaseCounter(app, env)]);
  await redis.srem(keys.releaseEnvs(app), env);
}
