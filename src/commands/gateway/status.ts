import { createHash } from 'node:crypto';
import { withPanel } from '../../adapters/ispconfig.js';
import { recentPanelLogin, recordPanelLogin } from '../../state/panel-ids.js';
import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { readAccountingQueueStatus } from '../../accounting/queue.js';
import { readBackupQueueStatus } from '../../deployer/backup-job.js';
import { readVisits } from '../../state/usage.js';
import { readDoctorRuns } from '../../state/doctor-runs.js';
import { CommandFailure } from '../../core/errors.js';
import { listApps } from '../../push/repos.js';
import type { GatewayContext } from '../../dispatch/context.js';
import type { GatewayConfig } from '../../core/config/types.js';

type Report = Awaited<ReturnType<typeof readStatus>>;

/**
 * `status`: what an operator looks at first. Who runs deploys,
 * accounting and database backups (BullMQ's workers), what waits or failed, when each host was
 * last visited by the accounting job and how that went, and the problems
 * found in all that, each with what to do. `--check` exits 1 when there is
 * one, for a monitoring system.
 */
export default defineCommand<Report>({
  name: 'status',
  summary: "the gateway's health: workers, queued and failed deploys, the accounting job, each host's last visit; --check exits 1 on a problem (admins)",
  usage: '[--json] [--check]',
  args: { booleans: ['json', 'check'] },
  need: 'admin',
  surfaces: EVERYWHERE,
  async run(args, ctx) {
    const report = await readStatus(await ctx.gateway(), await ctx.config());
    if (args.flags.has('check') && report.problems.length > 0) throw new CommandFailure(`status: ${report.problems.length} problem(s)`, 'status-problems', report);
    return report;
  },
  text: (report) => {
    const counts = (c: Record<string, number>) => Object.entries(c).map(([k, n]) => `${k} ${n}`).join(', ');
    const lines = [
      `redis       ${report.redis}`,
      `apps        ${report.apps}`,
      `deploys     ${report.deploy.workers.length} worker(s)${report.deploy.workers.length ? ` (${report.deploy.workers.join(', ')})` : ''}; ${counts(report.deploy.counts)}`,
      `accounting  every ${report.accounting.intervalSeconds} s, next run ${report.accounting.nextRun ?? 'not scheduled'}; ${report.accounting.workers.length} worker(s); ${counts(report.accounting.counts)}`,
      `backups     ${report.backups.everySeconds ? `every ${report.backups.everySeconds} s, next run ${report.backups.nextRun ?? 'not scheduled'}; ${report.backups.workers.length} worker(s); ${counts(report.backups.counts)}` : 'not scheduled (backups.schedule in gateway.yml)'}; keep ${report.backups.keep}${report.backups.last ? `; last run ${report.backups.last.finishedAt}: ${report.backups.last.failed.length > 0 ? 'FAILED' : `${report.backups.last.captured} captured`}` : ''}`,
      ...report.panels.map((p) => `ispconfig   ${p.cluster}: ${p.login === 'ok' ? 'login ok' : 'login FAILED'}`),
      ...Object.entries(report.doctor).map(([cluster, d]) => `doctor      ${cluster}: last run ${d.at}: ${d.ok ? 'as deployed' : `${d.differences} difference(s)${d.unreachable ? `, ${d.unreachable} host(s) not reached` : ''}`}`),
      'hosts',
      ...report.hosts.map((h) => `  ${`${h.cluster}/${h.host}`.padEnd(28)} ${h.visitedAt ? `visited ${h.visitedAt}, ${h.lines} edge log line(s)${h.error ? `, FAILED: ${h.error}` : ''}` : 'never visited'}`),
      report.problems.length === 0 ? 'no problems' : `problems:\n${report.problems.map((p) => `  - ${p}`).join('\n')}`,
    ];
    return `${lines.join('\n')}\n`;
  },
});

/** How long `status` trusts its last login to a panel (ISPConfig locks a client out after 10 failed logins in 5 minutes). */
const PANEL_CHECK_SECONDS = 300;

async function readStatus(gateway: GatewayContext, config: GatewayConfig) {
  const deployQueue = gateway.queue.queue;
  const deploy = {
    workers: (await deployQueue.getWorkers()).map((w) => w.name ?? w.id ?? '?').sort(),
    counts: await deployQueue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed'),
  };
  const accounting = await readAccountingQueueStatus(gateway.redis, gateway.keys);
  const backupQueue = await readBackupQueueStatus(gateway.redis, gateway.keys);
  const backups = { ...backupQueue, keep: config.gateway.backups.keep, ...(config.gateway.backups.scheduleSeconds ? { everySeconds: config.gateway.backups.scheduleSeconds } : {}) };
  const visits = await readVisits(gateway.state);
  const interval = config.gateway.accounting.intervalSeconds;
  const hosts = Object.values(config.clusters).flatMap((cluster) =>
    cluster.hosts.map((host) => {
      const visit = visits[`${cluster.name}:${host.name}`];
      return { cluster: cluster.name, host: host.name, roles: host.roles, ...(visit ? { visitedAt: visit.at, lines: visit.lines, ...(visit.error ? { error: visit.error } : {}), ...(visit.warnings?.length ? { warnings: visit.warnings } : {}) } : {}) };
    }),
  );
  const doctor = await readDoctorRuns(gateway.state);
  const problems: string[] = [];
  for (const [cluster, d] of Object.entries(doctor)) {
    if (!d.ok) problems.push(`${cluster}: the last doctor (${d.at}) found ${d.differences} difference(s)${d.unreachable ? ` and ${d.unreachable} host(s) it could not reach` : ''}: magrathea doctor --cluster ${cluster} names them`);
  }
  if (deploy.workers.length === 0) problems.push('no deploy worker is running: pushes wait until one starts (magrathea serve, or magrathea worker)');
  if (accounting.workers.length === 0) problems.push('no process runs the accounting job: traffic is not counted (magrathea serve, magrathea worker or magrathea accounting worker)');
  if (config.gateway.backups.scheduleSeconds && backups.workers.length === 0) problems.push('no process runs the database backup job: backups.schedule is set, but nothing is captured (magrathea serve or magrathea worker)');
  if (backups.last?.failed.length) problems.push(`the last database backup run failed: ${backups.last.failed.join('; ')}`);
  // A failed deploy is an app's outcome (a rejected push), not the gateway's health: counted above, not a problem.
  for (const h of hosts) {
    const name = `${h.cluster}/${h.host}`;
    if (h.error) problems.push(`${name}: the last accounting visit failed: ${h.error}`);
    else if (!h.visitedAt) problems.push(`${name}: never visited by the accounting job`);
    else if (Date.now() - Date.parse(h.visitedAt) > 3 * interval * 1000) problems.push(`${name}: last visited ${h.visitedAt}, over 3 intervals ago`);
    for (const warning of h.warnings ?? []) problems.push(`${name}: ${warning}`);
  }
  // Each cluster's panel: one login (a cheap call; a wrong password is one failed attempt, not retried), at most
  // once per PANEL_CHECK_SECONDS with the same settings: monitoring that polls status must not lock the gateway out.
  const panels: { cluster: string; login: string; checkedAt: string }[] = [];
  for (const cluster of Object.values(config.clusters)) {
    const { ispconfig } = cluster;
    if (!ispconfig) continue;
    const fingerprint = createHash('sha256').update([ispconfig.url, ispconfig.user, ispconfig.password].join('\0')).digest('hex');
    let found = await recentPanelLogin(gateway.state, cluster.name, fingerprint);
    if (!found) {
      const login = await withPanel({ ...cluster, ispconfig }, (api) => api.login()).then(() => 'ok', (e: unknown) => (e as Error).message);
      found = { fingerprint, login, at: new Date().toISOString() };
      await recordPanelLogin(gateway.state, cluster.name, found, PANEL_CHECK_SECONDS);
    }
    panels.push({ cluster: cluster.name, login: found.login, checkedAt: found.at });
    if (found.login !== 'ok') problems.push(`${found.login} (checked at ${found.at}, not again for ${PANEL_CHECK_SECONDS / 60} minutes unless its settings change; magrathea ispconfig check --cluster ${cluster.name} says more)`);
  }
  return { redis: gateway.redis.address, panels, apps: (await listApps(config.gateway.stateDir)).length, deploy, accounting: { ...accounting, intervalSeconds: interval }, backups, doctor, hosts, problems };
}
