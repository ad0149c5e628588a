import type { RedisContext } from '../state/redis.js';
import type { GatewayConfig, Quota } from '../core/config/types.js';
import { buildUsage, monthStart, quotaMessages, type StoredHostDisk, type UsageReport } from '../core/accounting/usage.js';
import { readDatabaseSizes, readHostDisks, readTrafficEnvs, readTrafficHours, readVisits } from '../state/usage.js';

export interface ReadUsageOptions {
  /** Seconds back from now. Default 30 days. */
  sinceSeconds?: number;
  /** Default: the current time. */
  now?: Date;
}

/** The quota of app: its own, else the default. */
export function appQuota(config: GatewayConfig, app: string): Quota {
  return config.gateway.accounting.quotas.apps[app] ?? config.gateway.accounting.quotas.default;
}

/** What `magrathea usage APP` shows: traffic per environment and cluster since then, disk per host and database sizes now, quotas. */
export async function readUsage(context: RedisContext, config: GatewayConfig, app: string, options: ReadUsageOptions = {}): Promise<UsageReport> {
  const now = options.now ?? new Date();
  const to = Math.floor(now.getTime() / 3600_000);
  const from = Math.floor((now.getTime() - (options.sinceSeconds ?? 30 * 86400) * 1000) / 3600_000);
  const month = Math.floor(monthStart(now).getTime() / 3600_000);
  const envs = await readTrafficEnvs(context, app);
  const [hours, monthHours, disks, databases, visits] = await Promise.all([
    readTrafficHours(context, app, envs, from, to),
    readTrafficHours(context, app, envs, month, to),
    readDisks(context, config),
    readDatabaseSizes(context, Object.values(config.clusters).filter((c) => c.db).map((c) => c.name)),
    readVisits(context),
  ]);
  // When each edge log was last read without error: traffic after the oldest of them is not all counted yet.
  const lastRead = Object.fromEntries(Object.entries(visits).filter(([, v]) => !v.error && isCache(config, v.cluster, v.host)).map(([k, v]) => [k, v.at]));
  return buildUsage({ app, from, to, hours, monthHours, disks, databases, lastRead, quota: appQuota(config, app) });
}

/**
 * The quotas app has crossed, one line each, for the output of a push (or
 * anything else that should warn): disk on its fullest host, traffic this
 * month. Empty when none is, or none is set.
 */
export async function quotaWarnings(context: RedisContext, config: GatewayConfig, app: string, now = new Date()): Promise<string[]> {
  const quota = appQuota(config, app);
  if (quota.disk === undefined && quota.traffic === undefined) return [];
  const report = await readUsage(context, config, app, { now, sinceSeconds: 3600 });
  return quotaMessages(app, quota, report.total.diskPerHost, report.month.traffic);
}

async function readDisks(context: RedisContext, config: GatewayConfig): Promise<StoredHostDisk[]> {
  const hosts = Object.values(config.clusters).flatMap((c) => c.hosts.filter((h) => h.roles.includes('web')).map((h) => ({ cluster: c.name, host: h.name })));
  return readHostDisks(context, hosts);
}

function isCache(config: GatewayConfig, cluster: string, host: string): boolean {
  return config.clusters[cluster]?.hosts.some((h) => h.name === host && h.roles.includes('cache')) ?? false;
}
