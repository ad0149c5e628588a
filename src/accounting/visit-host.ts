import type { RedisContext } from '../state/redis.js';
import { HostSession, type SshSettings } from '../adapters/ssh.js';
import type { ClusterConfig, HostConfig } from '../core/config/types.js';
import { advanceCursor, FINGERPRINT, planRead, type EdgeLogCursor } from '../core/accounting/cursor.js';
import { edgeLogPath, rotatedEdgeLogPath } from '../core/accounting/edge-log.js';
import { mergeSums, type TrafficSums } from '../core/accounting/parser.js';
import { splitIdent } from '../core/accounting/usage.js';
import { parseEdgeLogBytes } from './parse-log.js';
import { probeHost, readLogRange, type ProbeResult } from './remote.js';
import { commitTraffic, readCursor, recordDatabaseSizes, recordDisk, type HostVisit } from '../state/usage.js';
import { readClusterInstances } from '../state/cluster-instances.js';
import { databaseName } from '../core/database.js';
import { withDatabaseProvider } from '../deployer/database.js';
import type { InstanceConfig } from '../core/manifest/types.js';

export interface VisitOptions {
  redis: RedisContext;
  ssh: SshSettings;
  retentionSeconds: number;
  /** Bytes of edge log read, parsed and counted per step. Default 32 MiB. */
  chunkBytes?: number;
  /** No new step starts after this time (ms since the epoch); what is left is read by the next run. */
  deadline?: number;
  /** Progress, one line at a time. */
  log?: (line: string) => void;
}

/** Times the log may change under a step (a rotation between probe and read) before the visit gives up until the next run. */
const MAX_RETRIES = 5;
/** Steps in a row another run counts first before this visit leaves the log to it. */
const MAX_YIELDS = 3;

/**
 * One visit of one host, over one SSH connection: disk used by each
 * instance on a web host; the size of each live instance's database on the
 * cluster's db host (one query of the server's own statistics); on a cache host, the edge log's new complete
 * lines, read, parsed and counted step by step, each step committed with
 * the log's cursor (commitTraffic), so that a visit cut short anywhere
 * loses and repeats nothing.
 */
export async function visitHost(cluster: ClusterConfig, host: HostConfig, options: VisitOptions): Promise<HostVisit> {
  const visit: HostVisit = { cluster: cluster.name, host: host.name, at: '', lines: 0, bytes: 0, malformed: 0, unattributed: 0, instances: 0, gaps: [] };
  const web = host.roles.includes('web');
  const cache = host.roles.includes('cache');
  const session = new HostSession({ name: host.name, address: host.address, user: host.ssh.user, port: host.ssh.port }, options.ssh);
  const files = { current: edgeLogPath(cluster.paths), rotated: rotatedEdgeLogPath(cluster.paths) };
  const chunk = options.chunkBytes ?? 32 * 1024 * 1024;
  const say = (line: string): void => options.log?.(`${cluster.name}: ${host.name}: ${line}`);
  try {
    await session.open();
    let stored = cache ? await readCursor(options.redis, cluster.name, host.name) : { text: null };
    let measureDisk = web;
    let retries = 0;
    let yielded = 0;
    while (web || cache) {
      const cursor = stored.cursor;
      const probe = await probeHost(session, {
        apps: cluster.paths.apps, ...files, offset: cursor?.offset ?? 0, fingerprint: fingerprintLength(cursor), web: measureDisk, cache,
      });
      if (measureDisk) {
        await recordDisk(options.redis, { cluster: cluster.name, host: host.name, at: new Date(), instances: probe.disk, retentionSeconds: options.retentionSeconds });
        visit.instances = probe.disk.length;
        say(`disk of ${probe.disk.length} instance(s) measured`);
        measureDisk = false;
      }
      if (!cache) break;
      if (!probe.log.current && !probe.log.rotated && !visit.warnings) {
        visit.warnings = [`no edge log at ${files.current}: traffic is not counted on this host (see magrathea accounting edge-log)`];
        say(`warning: ${visit.warnings[0]}`);
      }
      const step = await readStep(session, files, cursor, probe, chunk);
      if (step.kind === 'idle') break;
      if (step.kind === 'changed') {
        if (++retries > MAX_RETRIES) throw new Error(`the edge log kept changing while it was read (${MAX_RETRIES} times); the next run goes on`);
        continue;
      }
      if (step.gap && !visit.gaps.includes(step.gap)) {
        visit.gaps.push(step.gap);
        say(`warning: ${step.gap}`);
      }
      const committed = await commitTraffic(options.redis, {
        cluster: cluster.name, host: host.name, expected: stored.text, next: step.next, rows: step.sums.rows, retentionSeconds: options.retentionSeconds,
      });
      if (!committed) {
        // Another run counted from this cursor first: go on from where it left the log, or, when it keeps
        // being first, leave the log to it (what it does not finish, the next run does).
        if (++yielded >= MAX_YIELDS) {
          (visit.warnings ??= []).push('another run was counting this edge log at the same time: the rest was left to it');
          say(`${visit.warnings.at(-1)!}`);
          break;
        }
        stored = await readCursor(options.redis, cluster.name, host.name);
        continue;
      }
      yielded = 0;
      stored = { text: JSON.stringify(step.next), cursor: step.next };
      visit.lines += step.sums.lines;
      visit.bytes += step.consumed;
      visit.malformed += step.sums.malformed;
      visit.unattributed += step.sums.rows.filter((r) => !splitIdent(r.ident)).reduce((n, r) => n + r.requests, 0) + step.sums.overflow;
      say(`${step.sums.lines} line(s), ${step.consumed} byte(s) of ${step.file === 'rotated' ? 'the previous' : 'the'} edge log counted`);
      if (!step.more) break;
      if (options.deadline !== undefined && Date.now() > options.deadline) {
        say('time is up: the rest of the log is read by the next run');
        break;
      }
    }
    if (cluster.db?.host === host.name) await measureDatabases(session, cluster, host, options, visit, say);
  } catch (e) {
    visit.error = (e as Error).message;
  } finally {
    await session.close();
  }
  visit.at = new Date().toISOString();
  return visit;
}

/** The size of each database of the cluster's live instances, from information_schema (no file is read), recorded for `usage`. */
async function measureDatabases(session: HostSession, cluster: ClusterConfig, host: HostConfig, options: VisitOptions, visit: HostVisit, say: (line: string) => void): Promise<void> {
  const instances = (await readClusterInstances(options.redis, cluster.name)).filter((i) => i.database);
  const name = (i: InstanceConfig) => databaseName(i, cluster);
  const sizes = instances.length > 0 ? await withDatabaseProvider(cluster, session, (provider) => provider.sizes(instances.map(name))) : {};
  const measured = instances.filter((i) => sizes[name(i)] !== undefined).map((i) => ({ app: i.app, env: i.env, bytes: sizes[name(i)]! }));
  await recordDatabaseSizes(options.redis, { cluster: cluster.name, host: host.name, at: new Date(), instances: measured });
  visit.databases = measured.length;
  say(`size of ${measured.length} database(s) measured`);
}

/** The fingerprint the stored cursor has: its bytes before the offset, as many as were kept. */
function fingerprintLength(cursor: EdgeLogCursor | undefined): number {
  return cursor ? Buffer.from(cursor.fp, 'base64').length : 0;
}

type Step =
  | { kind: 'idle' }
  /** The log changed between the probe and the read: probe again. */
  | { kind: 'changed' }
  | { kind: 'read'; file: 'current' | 'rotated'; sums: TrafficSums; consumed: number; next: EdgeLogCursor; gap?: string; more: boolean };

/**
 * One step: what planRead says to read, at most `chunk` bytes, read with
 * the bytes before it (which must still be the cursor's fingerprint: else
 * the file changed since the probe), parsed up to its last complete line.
 */
async function readStep(session: HostSession, files: { current: string; rotated: string }, cursor: EdgeLogCursor | undefined, probe: ProbeResult, chunk: number): Promise<Step> {
  const plan = planRead(cursor, probe.log);
  if (plan.kind === 'idle') return { kind: 'idle' };
  const fp = Buffer.from(plan.cursor.fp, 'base64');
  const from = plan.cursor.offset;
  const to = Math.min(plan.to, from + chunk);
  const final = plan.finished && to === plan.to;
  const next = (consumed: number, bytes: Buffer, skip: boolean): EdgeLogCursor =>
    advanceCursor(plan, { read: to - from, consumed, fp: fingerprintOf(fp, bytes.subarray(0, consumed)), skip }, probe.log.current);
  const none: TrafficSums = { rows: [], lines: 0, malformed: 0, overflow: 0 };
  // A step that counts nothing still moves a cursor that is new (first sight of the log, after a gap) or done with a finished file.
  const step = (sums: TrafficSums, consumed: number, moved: EdgeLogCursor, more: boolean): Step =>
    consumed === 0 && cursor && sameCursor(moved, cursor)
      ? { kind: 'idle' }
      : { kind: 'read', file: plan.file, sums, consumed, next: moved, ...(plan.gap ? { gap: plan.gap } : {}), more };
  if (to <= from) return step(none, 0, next(0, Buffer.alloc(0), plan.cursor.skip === true), final);

  const data = await readLogRange(session, files, plan.inode, from - fp.length, to - from + fp.length);
  if (!data || data.length !== to - from + fp.length || !data.subarray(0, fp.length).equals(fp)) return { kind: 'changed' };
  const bytes = data.subarray(fp.length);

  // Inside a line longer than a whole step: its bytes up to its newline are not counted, the line is (as malformed).
  let skipped = 0;
  let skip = false;
  if (plan.cursor.skip) {
    const newline = bytes.indexOf(10);
    skip = newline < 0 && !final;
    skipped = newline < 0 ? bytes.length : newline + 1;
  }
  const result = skip ? { ...none, consumed: 0 } : await parseEdgeLogBytes(bytes.subarray(skipped), final);
  const ended = plan.cursor.skip && !skip ? 1 : 0;
  const sums = mergeSums([result, { rows: [], lines: ended, malformed: ended, overflow: 0 }]);
  let consumed = skipped + result.consumed;
  if (!skip && consumed === 0 && bytes.length === chunk) {
    // A whole step and no newline: one line longer than a step, skipped to its end.
    consumed = bytes.length;
    skip = true;
  }
  // More to read in this file, or a finished file left for the current one.
  return step(sums, consumed, next(consumed, bytes, skip), to < plan.to || final);
}

/** The last FINGERPRINT bytes of `before` followed by `read`. */
function fingerprintOf(before: Buffer, read: Buffer): string {
  const tail = read.length >= FINGERPRINT ? read.subarray(read.length - FINGERPRINT) : Buffer.concat([before, read]);
  return tail.subarray(Math.max(0, tail.length - FINGERPRINT)).toString('base64');
}

function sameCursor(a: EdgeLogCursor, b: EdgeLogCursor): boolean {
  return a.inode === b.inode && a.offset === b.offset && a.fp === b.fp && a.skip === b.skip;
}
