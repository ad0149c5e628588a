import { createHash } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisContext } from '../state/redis.js';
import type { SshSettings } from '../adapters/ssh.js';
import type { GatewayConfig } from '../core/config/types.js';
import { recordVisit, type HostVisit } from '../state/usage.js';
import { visitHost } from './visit-host.js';
import { formatTable } from '../core/table.js';

export interface RunAccountingOptions {
  config: GatewayConfig;
  redis: RedisContext;
  /** Only these clusters. Default: all. */
  clusters?: string[];
  /** Bytes of edge log per step (see visitHost). Default 32 MiB. */
  chunkBytes?: number;
  /** Hosts visited at once. Default 8. */
  concurrency?: number;
  /** No new step starts after this many ms: the rest is the next run's. Default: 80 % of the interval. */
  budgetMs?: number;
  log?: (line: string) => void;
}

export interface AccountingRun {
  started: string;
  seconds: number;
  visits: HostVisit[];
}

/**
 * The accounting job: visits every web, cache and db host of every cluster,
 * at most `concurrency` at once, each over its own SSH connection. A host
 * that fails (unreachable, an odd log) does not stop the others: its
 * visit records the error, and the next run goes on from where it was.
 */
export async function runAccounting(options: RunAccountingOptions): Promise<AccountingRun> {
  const began = Date.now();
  const { config } = options;
  const accounting = config.gateway.accounting;
  await sweepControlDirs(config);
  const ssh = accountingSshSettings(config, ++runs);
  const hosts = Object.values(config.clusters)
    .filter((c) => !options.clusters || options.clusters.includes(c.name))
    .flatMap((cluster) => cluster.hosts.filter((h) => h.roles.includes('web') || h.roles.includes('cache') || cluster.db?.host === h.name).map((host) => ({ cluster, host })));
  const deadline = began + (options.budgetMs ?? accounting.intervalSeconds * 800);
  const visits: HostVisit[] = new Array(hosts.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < hosts.length) {
      const i = next++;
      const { cluster, host } = hosts[i]!;
      const visit = await visitHost(cluster, host, { redis: options.redis, ssh, retentionSeconds: accounting.retentionSeconds, chunkBytes: options.chunkBytes, deadline, log: options.log });
      if (visit.error) options.log?.(`${cluster.name}: ${host.name}: failed: ${visit.error}`);
      await recordVisit(options.redis, visit);
      visits[i] = visit;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, hosts.length) }, worker));
  } finally {
    // Every session of the run is closed by now.
    await rm(ssh.controlDir, { recursive: true, force: true });
  }
  return { started: new Date(began).toISOString(), seconds: (Date.now() - began) / 1000, visits };
}

let runs = 0;

/**
 * The gateway's key and known_hosts, but control sockets of the run's own
 * (`n`: the how-manieth run of this process): a run (or a deploy) closes
 * its connections when it ends, which must not cut the reads of another
 * run going on at the same time. Short, as controlDir explains.
 */
export function accountingSshSettings(config: GatewayConfig, n: number): SshSettings {
  return { identity: config.gateway.ssh.identity, knownHosts: config.gateway.ssh.knownHosts, controlDir: join(tmpdir(), `${controlPrefix(config)}${process.pid}-${n}`) };
}

function controlPrefix(config: GatewayConfig): string {
  return `magrathea-acct-${createHash('sha256').update(config.gateway.stateDir).digest('hex').slice(0, 10)}-`;
}

/** Removes the control directories runs of dead processes left (a killed run cannot remove its own). */
export async function sweepControlDirs(config: GatewayConfig): Promise<void> {
  const prefix = controlPrefix(config);
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const pid = Number(/^([0-9]+)-[0-9]+$/.exec(name.slice(prefix.length))?.[1]);
    if (!name.startsWith(prefix) || !Number.isInteger(pid) || isAlive(pid)) continue;
    await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The table `magrathea accounting run` prints: one line per host. */
export function formatRun(run: AccountingRun): string {
  const rows = [['CLUSTER', 'HOST', 'LINES', 'BYTES', 'MALFORMED', 'INSTANCES', 'RESULT']].concat(
    run.visits.map((v) => [v.cluster, v.host, String(v.lines), String(v.bytes), String(v.malformed), String(v.instances), v.error ? `error: ${v.error}` : [...v.gaps.map((g) => `gap: ${g}`), ...(v.warnings ?? [])].join('; ') || 'ok']),
  );
  return `${formatTable(rows)}accounting run in ${run.seconds.toFixed(1)} s\n`;
}
