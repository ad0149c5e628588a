import type { RedisContext } from './redis.js';
import { defineScript } from './redis-script.js';
import type { EdgeLogCursor } from '../core/accounting/cursor.js';
import type { TrafficRow } from '../core/accounting/parser.js';
import { dayKey, hourKey, splitIdent, trafficIncrements, type StoredDatabaseSizes, type StoredHostDisk, type StoredHour } from '../core/accounting/usage.js';
import { deleteKeys } from './delete-keys.js';

/*
 * What the accounting job counts (traffic per hour from the edge logs, disk
 * per host and day) and what `usage` reads back, with the job's cursors in
 * the edge logs and its last visit of each host.
 */

/**
 * commit-traffic (scripts/commit-traffic.lua): one read of an edge log,
 * counted once, with the move of the log's cursor, only if the cursor is
 * still the one the read started from.
 */
const commitTrafficScript = defineScript('commit-traffic');

export interface TrafficCommit {
  cluster: string;
  host: string;
  /** The cursor as stored when the read began (its exact text), null when there was none. */
  expected: string | null;
  next: EdgeLogCursor;
  rows: readonly TrafficRow[];
  retentionSeconds: number;
}

/** Counts a read; false when another run counted from that cursor first (nothing is done then). */
export async function commitTraffic({ redis, keys }: RedisContext, commit: TrafficCommit): Promise<boolean> {
  const hashes: string[] = [];
  const sets: string[] = [];
  const args: (string | number)[] = [];
  // One hash per app, env and hour: rows of several hosts' lines of an hour add up there.
  const byKey = new Map<string, { env: string; hour: number; fields: Map<string, number> }>();
  for (const row of commit.rows) {
    const instance = splitIdent(row.ident);
    if (!instance) continue;
    const key = keys.traffic(instance.app, instance.env, hourKey(row.hour));
    let entry = byKey.get(key);
    if (!entry) {
      byKey.set(key, (entry = { env: instance.env, hour: row.hour, fields: new Map() }));
      hashes.push(key);
      sets.push(keys.trafficEnvs(instance.app));
    }
    for (const [field, n] of trafficIncrements(commit.cluster, row)) entry.fields.set(field, (entry.fields.get(field) ?? 0) + n);
  }
  for (const key of hashes) {
    const { env, hour, fields } = byKey.get(key)!;
    args.push((hour + 1) * 3600 + commit.retentionSeconds, env, fields.size, ...[...fields].flat());
  }
  const result = await commitTrafficScript(redis, [keys.edgeCursor(commit.cluster, commit.host), ...hashes, ...sets], [commit.expected ?? '', JSON.stringify(commit.next), hashes.length, ...args]);
  return result === 1;
}

/** The stored cursor of a cache host's edge log: its exact text (for commitTraffic) and its value. */
export async function readCursor({ redis, keys }: RedisContext, cluster: string, host: string): Promise<{ text: string | null; cursor?: EdgeLogCursor }> {
  const text = await redis.get(keys.edgeCursor(cluster, host));
  return text === null ? { text } : { text, cursor: JSON.parse(text) as EdgeLogCursor };
}

/**
 * record-disk (scripts/record-disk.lua): one host's disk use per instance,
 * replacing what its hash said and raising each instance's maximum of the day.
 */
const recordDiskScript = defineScript('record-disk');

export interface DiskRecord {
  cluster: string;
  host: string;
  at: Date;
  instances: readonly { app: string; env: string; bytes: number }[];
  retentionSeconds: number;
}

export async function recordDisk({ redis, keys }: RedisContext, record: DiskRecord): Promise<void> {
  const day = dayKey(record.at);
  const dayEnd = Date.UTC(record.at.getUTCFullYear(), record.at.getUTCMonth(), record.at.getUTCDate() + 1) / 1000;
  await recordDiskScript(
    redis,
    [keys.hostDisk(record.cluster, record.host), ...record.instances.map((i) => keys.diskDay(i.app, i.env, day))],
    [record.at.toISOString(), `${record.cluster}:${record.host}`, dayEnd + record.retentionSeconds, ...record.instances.flatMap((i) => [`${i.app}.${i.env}`, i.bytes])],
  );
}

/** The size of each instance's database on a cluster's db host, measured now: replaces what was recorded for the cluster. */
export async function recordDatabaseSizes({ redis, keys }: RedisContext, record: { cluster: string; host: string; at: Date; instances: readonly { app: string; env: string; bytes: number }[] }): Promise<void> {
  const key = keys.databaseSizes(record.cluster);
  const fields = ['@at', record.at.toISOString(), '@host', record.host, ...record.instances.flatMap((i) => [`${i.app}.${i.env}`, String(i.bytes)])];
  const results = await redis.multi().del(key).hset(key, ...fields).exec();
  for (const [err] of results ?? []) if (err) throw err;
}

/** The database sizes recorded for each cluster, in the order given (empty for a cluster never measured). */
export async function readDatabaseSizes({ redis, keys }: RedisContext, clusters: readonly string[]): Promise<StoredDatabaseSizes[]> {
  const pipeline = redis.pipeline();
  for (const cluster of clusters) pipeline.hgetall(keys.databaseSizes(cluster));
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, fields], i) => {
    if (error) throw error;
    return { cluster: clusters[i]!, fields: (fields ?? {}) as Record<string, string> };
  });
}

/** What the accounting job did on one host at its last visit. */
export interface HostVisit {
  cluster: string;
  host: string;
  /** ISO 8601, when the visit ended. */
  at: string;
  /** Edge log lines and bytes counted by this visit. */
  lines: number;
  bytes: number;
  malformed: number;
  /** Lines of no instance (a `-` or a name that is not `<app>_<env>`). */
  unattributed: number;
  /** Instances whose disk use was measured. */
  instances: number;
  /** On the cluster's db host: databases whose size was measured. */
  databases?: number;
  /** Log data lost to rotations the job did not see. */
  gaps: string[];
  /** What else a person should look at (a cache host without an edge log). */
  warnings?: string[];
  error?: string;
}

export async function recordVisit({ redis, keys }: RedisContext, visit: HostVisit): Promise<void> {
  await redis.hset(keys.accountingVisits(), `${visit.cluster}:${visit.host}`, JSON.stringify(visit));
}

export async function readVisits({ redis, keys }: RedisContext): Promise<Record<string, HostVisit>> {
  const all = await redis.hgetall(keys.accountingVisits());
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, JSON.parse(v) as HostVisit]));
}

/** The environments of app that have traffic. */
export async function readTrafficEnvs({ redis, keys }: RedisContext, app: string): Promise<string[]> {
  return redis.smembers(keys.trafficEnvs(app));
}

/** The traffic hashes of app's `envs` for each hour from `from` to `to` (hours since the epoch, both included) that has any. */
export async function readTrafficHours({ redis, keys }: RedisContext, app: string, envs: readonly string[], from: number, to: number): Promise<StoredHour[]> {
  const wanted: { env: string; hour: number }[] = [];
  for (const env of envs) for (let hour = from; hour <= to; hour++) wanted.push({ env, hour });
  const out: StoredHour[] = [];
  // Pipelined in batches: a year of hours is 8760 reads per environment.
  for (let i = 0; i < wanted.length; i += 1000) {
    const batch = wanted.slice(i, i + 1000);
    const pipeline = redis.pipeline();
    for (const { env, hour } of batch) pipeline.hgetall(keys.traffic(app, env, hourKey(hour)));
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([error, fields], j) => {
      if (error) throw error;
      if (fields && Object.keys(fields as object).length > 0) out.push({ ...batch[j]!, fields: fields as Record<string, string> });
    });
  }
  return out;
}

/** The disk hash of each host, in the order given (empty for a host never measured). */
export async function readHostDisks({ redis, keys }: RedisContext, hosts: readonly { cluster: string; host: string }[]): Promise<StoredHostDisk[]> {
  const pipeline = redis.pipeline();
  for (const { cluster, host } of hosts) pipeline.hgetall(keys.hostDisk(cluster, host));
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, fields], i) => {
    if (error) throw error;
    return { ...hosts[i]!, fields: (fields ?? {}) as Record<string, string> };
  });
}

/**
 * Removes app's traffic and disk history, in every environment. Its
 * entries in the hosts' disk hashes go at the next visit (the job reads
 * what is on the hosts).
 */
export async function destroyAccountingState({ redis, keys }: RedisContext, app: string): Promise<void> {
  await deleteKeys(redis, [keys.appPattern('traffic', app), keys.appPattern('disk-day', app)], [keys.trafficEnvs(app)]);
}
