import type { Quota } from '../config/types.js';
import { checkName } from '../values.js';
import { STATUS_CLASSES, type StatusClass, type TrafficRow } from './parser.js';
import { formatTable } from '../table.js';

/**
 * Usage as stored and as shown: the fields of the hourly traffic hashes,
 * the report of `magrathea usage`, quotas. Pure: src/accounting reads and
 * writes Redis around it.
 */

/** The metrics of an hour of traffic, each a field `<cluster>:<metric>` of the hour's hash. */
export const METRICS = ['requests', 'in', 'out', ...STATUS_CLASSES] as const;

/** `YYYYMMDDHH` (UTC) of an hour since the epoch. */
export function hourKey(hour: number): string {
  return new Date(hour * 3600_000).toISOString().slice(0, 13).replace(/[-T]/g, '');
}

/** `YYYYMMDD` (UTC) of a time. */
export function dayKey(date: Date): string {
  return date.toISOString().slice(0, 10).replaceAll('-', '');
}

/** `<app>_<env>` as the edge log names an instance, or undefined for `-` and anything that is not two names. */
export function splitIdent(ident: string): { app: string; env: string } | undefined {
  const parts = ident.split('_');
  if (parts.length !== 2 || checkName(parts[0]!) || checkName(parts[1]!)) return undefined;
  return { app: parts[0]!, env: parts[1]! };
}

/** The non-zero increments one row of sums makes to its hour's hash on `cluster`. */
export function trafficIncrements(cluster: string, row: TrafficRow): [string, number][] {
  const values = [row.requests, row.bytesIn, row.bytesOut, ...row.status];
  return METRICS.flatMap((metric, i) => (values[i] ? [[`${cluster}:${metric}`, values[i]] as [string, number]] : []));
}

export interface TrafficTotals {
  requests: number;
  bytesIn: number;
  bytesOut: number;
  status: Record<StatusClass, number>;
}

const zero = (): TrafficTotals => ({ requests: 0, bytesIn: 0, bytesOut: 0, status: Object.fromEntries(STATUS_CLASSES.map((c) => [c, 0])) as Record<StatusClass, number> });

function add(into: TrafficTotals, from: TrafficTotals): void {
  into.requests += from.requests;
  into.bytesIn += from.bytesIn;
  into.bytesOut += from.bytesOut;
  for (const c of STATUS_CLASSES) into.status[c] += from.status[c];
}

/** One hour of app+env as stored: its hash, `<cluster>:<metric>` → count. */
export interface StoredHour {
  env: string;
  hour: number;
  fields: Record<string, string>;
}

/** One host's disk hash as stored: `<app>.<env>` → bytes, `@at` → when. */
export interface StoredHostDisk {
  cluster: string;
  host: string;
  fields: Record<string, string>;
}

/** One cluster's database sizes as stored: `<app>.<env>` → bytes, `@at` → when, `@host` → its db host. */
export interface StoredDatabaseSizes {
  cluster: string;
  fields: Record<string, string>;
}

export interface UsageInput {
  app: string;
  /** Hours since the epoch: [from, to] inclusive. */
  from: number;
  to: number;
  hours: StoredHour[];
  /** The hours of this calendar month (UTC), for the traffic quota. */
  monthHours: StoredHour[];
  disks: StoredHostDisk[];
  /** Each cluster's database sizes, as the accounting job last measured them on its db host. */
  databases?: StoredDatabaseSizes[];
  /** When each cache host's edge log was last read, `<cluster>:<host>` → ISO time. */
  lastRead: Record<string, string>;
  quota: Quota;
}

export interface InstanceUsage extends TrafficTotals {
  env: string;
  cluster: string;
  /** Disk on each web host of the cluster (each holds a whole copy), bytes and when measured. */
  disk: Record<string, { bytes: number; at: string }>;
  /** The largest of them. */
  diskPerHost: number;
  /** Its database on the cluster's db host (data and indexes), when it has one, as last measured. */
  database?: { host: string; bytes: number; at: string };
}

/** One hour of one instance's traffic, as counted at its cluster's edge. */
export interface HourUsage extends TrafficTotals {
  /** ISO time of the hour's start (UTC). */
  hour: string;
  env: string;
  cluster: string;
}

export interface UsageReport {
  app: string;
  /** ISO times of the first hour counted and of the end of the last. */
  since: string;
  until: string;
  /** Every instance with traffic or disk, by environment then cluster. */
  instances: InstanceUsage[];
  /** Each hour with traffic, by hour, environment, then cluster (an hour left out had none): what the dashboard's charts draw. */
  hours: HourUsage[];
  /** Per cluster, every environment together. */
  clusters: (TrafficTotals & { cluster: string; diskPerHost: number })[];
  total: TrafficTotals & { diskPerHost: number };
  /** This calendar month: bytes in + out, every cluster and environment. */
  month: { since: string; traffic: number };
  quota: Quota;
  warnings: string[];
  /** The oldest last read of an edge log: traffic after it is not counted yet. */
  countedUpTo?: string;
}

/** Adds up what was read from Redis into the report of `usage`. */
export function buildUsage(input: UsageInput): UsageReport {
  const instances = new Map<string, InstanceUsage>();
  const instance = (env: string, cluster: string): InstanceUsage => {
    const key = `${env} ${cluster}`;
    let found = instances.get(key);
    if (!found) instances.set(key, (found = { env, cluster, ...zero(), disk: {}, diskPerHost: 0 }));
    return found;
  };
  const hours: HourUsage[] = [];
  for (const stored of input.hours) {
    if (stored.hour < input.from || stored.hour > input.to) continue;
    for (const [cluster, totals] of hourTotals(stored.fields)) {
      add(instance(stored.env, cluster), totals);
      hours.push({ hour: new Date(stored.hour * 3600_000).toISOString(), env: stored.env, cluster, ...totals });
    }
  }
  hours.sort((a, b) => a.hour.localeCompare(b.hour) || a.env.localeCompare(b.env) || a.cluster.localeCompare(b.cluster));
  // Disk per host, every environment of the app together: what the quota is about.
  const perHost = new Map<string, number>();
  for (const { cluster, host, fields } of input.disks) {
    for (const [field, value] of Object.entries(fields)) {
      const [app, env] = field.split('.');
      if (app !== input.app || !env) continue;
      const bytes = Number(value);
      const usage = instance(env, cluster);
      usage.disk[host] = { bytes, at: fields['@at'] ?? '' };
      usage.diskPerHost = Math.max(usage.diskPerHost, bytes);
      perHost.set(`${cluster}:${host}`, (perHost.get(`${cluster}:${host}`) ?? 0) + bytes);
    }
  }
  // Each database is disk on its cluster's db host: the app's databases there count toward its disk per host (the quota's), not the instance's web disk.
  for (const { cluster, fields } of input.databases ?? []) {
    const host = fields['@host'] ?? 'db';
    for (const [field, value] of Object.entries(fields)) {
      const [app, env] = field.split('.');
      if (app !== input.app || !env) continue;
      const bytes = Number(value);
      const usage = instance(env, cluster);
      usage.database = { host, bytes, at: fields['@at'] ?? '' };
      perHost.set(`${cluster}:${host}`, (perHost.get(`${cluster}:${host}`) ?? 0) + bytes);
    }
  }
  const sorted = [...instances.values()].sort((a, b) => a.env.localeCompare(b.env) || a.cluster.localeCompare(b.cluster));
  const clusters = new Map<string, TrafficTotals & { cluster: string; diskPerHost: number }>();
  for (const usage of sorted) {
    let c = clusters.get(usage.cluster);
    if (!c) clusters.set(usage.cluster, (c = { cluster: usage.cluster, ...zero(), diskPerHost: 0 }));
    add(c, usage);
  }
  for (const [key, bytes] of perHost) {
    const c = clusters.get(key.split(':')[0]!)!;
    c.diskPerHost = Math.max(c.diskPerHost, bytes);
  }
  const total = { ...zero(), diskPerHost: Math.max(0, ...perHost.values()) };
  for (const usage of sorted) add(total, usage);

  const month = zero();
  for (const stored of input.monthHours) for (const [, totals] of hourTotals(stored.fields)) add(month, totals);
  const monthTraffic = month.bytesIn + month.bytesOut;
  const reads = Object.values(input.lastRead).sort();
  return {
    app: input.app,
    since: new Date(input.from * 3600_000).toISOString(),
    until: new Date((input.to + 1) * 3600_000).toISOString(),
    instances: sorted,
    hours,
    clusters: [...clusters.values()].sort((a, b) => a.cluster.localeCompare(b.cluster)),
    total,
    month: { since: monthStart(new Date(input.to * 3600_000)).toISOString(), traffic: monthTraffic },
    quota: input.quota,
    warnings: quotaMessages(input.app, input.quota, total.diskPerHost, monthTraffic),
    ...(reads.length > 0 ? { countedUpTo: reads[0]! } : {}),
  };
}

/** Cluster → totals, from one hour's hash. */
function hourTotals(fields: Record<string, string>): Map<string, TrafficTotals> {
  const byCluster = new Map<string, TrafficTotals>();
  for (const [field, value] of Object.entries(fields)) {
    const colon = field.lastIndexOf(':');
    const cluster = field.slice(0, colon);
    const metric = field.slice(colon + 1) as (typeof METRICS)[number];
    let totals = byCluster.get(cluster);
    if (!totals) byCluster.set(cluster, (totals = zero()));
    const n = Number(value);
    if (metric === 'requests') totals.requests += n;
    else if (metric === 'in') totals.bytesIn += n;
    else if (metric === 'out') totals.bytesOut += n;
    else if ((STATUS_CLASSES as readonly string[]).includes(metric)) totals.status[metric as StatusClass] += n;
  }
  return byCluster;
}

/** The first instant of the calendar month (UTC) of `date`. */
export function monthStart(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1));
}

/** One line per quota crossed: disk on the fullest host, or this month's traffic. */
export function quotaMessages(app: string, quota: Quota, diskPerHost: number, monthTraffic: number): string[] {
  const warnings: string[] = [];
  if (quota.disk !== undefined && diskPerHost > quota.disk) {
    warnings.push(`${app} uses ${formatBytes(diskPerHost)} of disk on a host, over its quota of ${formatBytes(quota.disk)}`);
  }
  if (quota.traffic !== undefined && monthTraffic > quota.traffic) {
    warnings.push(`${app} has used ${formatBytes(monthTraffic)} of web traffic this month, over its quota of ${formatBytes(quota.traffic)}`);
  }
  return warnings;
}

/** `0 B`, `512 B`, `1.5 KiB`, `20.0 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The table `magrathea usage` prints: a row per environment and cluster, one per cluster when there are several environments, the total. */
export function formatUsage(report: UsageReport): string {
  const when = (iso: string): string => iso.replace(/:\d\d(\.\d+)?Z$/, ' UTC').replace('T', ' ');
  const header = `${report.app}: traffic from ${when(report.since)} to ${when(report.until)}${report.countedUpTo ? `, counted up to ${when(report.countedUpTo)}` : ''}`;
  if (report.instances.length === 0) return `${header}\n${report.app} has no traffic and uses no disk yet\n`;
  // A DB column when the app has a database: its size per instance, added up per cluster and in all.
  const withDb = report.instances.some((i) => i.database);
  const dbOf = (list: readonly InstanceUsage[]): string[] => (withDb ? [list.some((i) => i.database) ? formatBytes(list.reduce((n, i) => n + (i.database?.bytes ?? 0), 0)) : '-'] : []);
  const row = (env: string, cluster: string, t: TrafficTotals, disk: number, of: readonly InstanceUsage[]): string[] => [
    env, cluster, String(t.requests), formatBytes(t.bytesIn), formatBytes(t.bytesOut), ...STATUS_CLASSES.map((c) => String(t.status[c])), disk ? formatBytes(disk) : '-', ...dbOf(of),
  ];
  const rows = [['ENV', 'CLUSTER', 'REQUESTS', 'IN', 'OUT', ...STATUS_CLASSES.map((c) => c.toUpperCase()), 'DISK/HOST', ...(withDb ? ['DB'] : [])]];
  for (const i of report.instances) rows.push(row(i.env, i.cluster, i, i.diskPerHost, [i]));
  if (new Set(report.instances.map((i) => i.env)).size > 1) for (const c of report.clusters) rows.push(row('(all)', c.cluster, c, c.diskPerHost, report.instances.filter((i) => i.cluster === c.cluster)));
  rows.push(row('total', '', report.total, report.total.diskPerHost, report.instances));
  const table = formatTable(rows, rows[0]!.map((_, c) => c).filter((c) => c >= 2)).trimEnd().split('\n');
  const of = (used: number, limit: number | undefined): string => `${formatBytes(used)}${limit === undefined ? '' : ` of ${formatBytes(limit)}`}`;
  return [
    header,
    '',
    ...table,
    '',
    `this month: traffic ${of(report.month.traffic, report.quota.traffic)}; disk per host ${of(report.total.diskPerHost, report.quota.disk)}`,
    ...report.warnings.map((w) => `warning: ${w}`),
    '',
  ].join('\n');
}
