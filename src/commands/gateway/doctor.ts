import { defineCommand, EVERYWHERE, type CommandContext } from '../../dispatch/command.js';
import type { GatewayContext } from '../../dispatch/context.js';
import { instanceId } from '../../core/render/names.js';
import { readInstanceReleases } from '../../state/host-releases.js';
import { listReleases } from '../../state/releases.js';
import { queueRollback } from '../releases/rollback.js';
import { CommandFailure, UsageError } from '../../core/errors.js';
import { formatTable } from '../../core/table.js';
import { hostSshSettings } from '../../deployer/deploy.js';
import { surveyCluster, type ClusterSurvey } from '../../deployer/doctor.js';
import { redisDeployState } from '../../deployer/redis-state.js';
import { recordDoctorRun } from '../../state/doctor-runs.js';

interface Report {
  ok: boolean;
  clusters: ClusterSurvey[];
  /** With --fix: each instance applied again (`<app>.<env>@<cluster>`), and how that went. */
  fixed?: { instance: string; release: string; ok: boolean; error?: string }[];
}

/**
 * `doctor`: does every host still hold what the gateway deployed? Each
 * Magrathea file against what the live releases render, files no live
 * instance has, and each instance's `current` against the recorded
 * release; exit 1 on any difference or unreachable host, each named with
 * its host and file. Reads only.
 */
export default defineCommand<Report>({
  name: 'doctor',
  summary: "each host against what the gateway deployed: changed, missing and unknown Magrathea files, current links; exit 1 on drift; --fix applies the recorded releases again (admins)",
  usage: '[--cluster NAME] [--fix] [--json]',
  args: { values: ['cluster'], booleans: ['json', 'fix'] },
  need: 'admin',
  surfaces: EVERYWHERE,
  async run(args, ctx) {
    const config = await ctx.config();
    const names = args.values.cluster === undefined ? Object.keys(config.clusters).sort() : [args.values.cluster];
    for (const name of names) if (!config.clusters[name]) throw new UsageError(`doctor: no cluster ${JSON.stringify(name)} in ${config.dir}/clusters.yml (clusters: ${Object.keys(config.clusters).sort().join(', ')})`);
    const gateway = await ctx.gateway();
    const state = redisDeployState(gateway.state);
    const survey = () => Promise.all(names.map((name) => surveyCluster(config.clusters[name]!, state, hostSshSettings(config))));
    let clusters = await survey();
    const report: Report = { ok: false, clusters };
    if (args.flags.has('fix')) {
      const say = (line: string) => void (args.flags.has('json') ? ctx.io.stderr : ctx.io.stdout).write(`${line}\n`);
      report.fixed = await applyAgain(ctx, gateway, clusters, say);
      report.clusters = clusters = await survey();
    }
    report.ok = clusters.every((c) => c.drift.length === 0 && Object.keys(c.unreachable).length === 0);
    const at = new Date().toISOString();
    for (const c of clusters) {
      const unreachable = Object.keys(c.unreachable).length;
      await recordDoctorRun(gateway.state, c.cluster, { at, ok: c.drift.length === 0 && unreachable === 0, differences: c.drift.length, unreachable });
    }
    if (!report.ok) {
      const drift = clusters.reduce((n, c) => n + c.drift.length, 0);
      const unreachable = clusters.reduce((n, c) => n + Object.keys(c.unreachable).length, 0);
      throw new CommandFailure(`doctor: ${drift} difference(s)${unreachable > 0 ? `, ${unreachable} host(s) not reached` : ''}`, 'drift', report);
    }
    return report;
  },
  text: (report) => {
    const lines = report.clusters.map((c) => `${c.cluster}: ${c.hosts} hosts, ${c.instances} instances, ${c.files} files: ${c.drift.length === 0 && Object.keys(c.unreachable).length === 0 ? 'as deployed' : `${c.drift.length} difference(s)`}`);
    const rows = report.clusters.flatMap((c) => [
      ...c.drift.map((d) => [`${c.cluster}/${d.host}`, d.kind, d.path, d.detail]),
      ...Object.entries(c.unreachable).map(([host, why]) => [`${c.cluster}/${host}`, 'unreachable', '', why]),
    ]);
    const fixed = (report.fixed ?? []).map((f) => `applied again: ${f.instance} ${f.release}: ${f.ok ? 'done' : `failed: ${f.error}`}`);
    const unknown = rows.some((r) => r[1] === 'unknown') ? ['unknown files are not removed: look at each, remove it by hand, then reload its service'] : [];
    if (rows.some((r) => r[1] === 'requirement' || r[1] === 'service')) unknown.push('requirements and services are the host\'s to fix (see "What a real web host must provide" in the README); --fix does not touch them');
    return `${[...fixed, ...lines].join('\n')}\n${rows.length > 0 ? `\n${formatTable([['HOST', 'KIND', 'PATH', 'DETAIL'], ...rows])}${unknown.map((l) => `\n${l}\n`).join('')}` : ''}`;
  },
});

/**
 * `--fix`: each instance whose file or `current` differs applied again at
 * its recorded release, through the deploy queue (behind the app's other
 * deploys), every config file of its cluster shipped; one instance per
 * cluster for a file of the whole cluster. Unknown files are left alone.
 */
async function applyAgain(ctx: CommandContext, gateway: GatewayContext, clusters: readonly ClusterSurvey[], say: (line: string) => void): Promise<NonNullable<Report['fixed']>> {
  const fixed: NonNullable<Report['fixed']> = [];
  for (const survey of clusters) {
    // Files and links only: what applying a release again puts back (a requirement or a daemon is the host's to fix).
    const drifted = survey.drift.filter((d) => d.kind === 'changed' || d.kind === 'missing' || d.kind === 'current');
    const ids = new Set(drifted.flatMap((d) => (d.instance ? [d.instance] : [])));
    if (drifted.length > 0 && ids.size === 0) {
      const first = (await redisDeployState(gateway.state).clusterInstances(survey.cluster))[0];
      if (first) ids.add(instanceId(first));
    }
    for (const id of [...ids].sort()) {
      const [app, env] = id.split('.') as [string, string];
      const current = (await readInstanceReleases(gateway.state, app, env))[survey.cluster]?.release;
      const release = current ? (await listReleases(gateway.state, app, env)).find((r) => r.id === current) : undefined;
      const where = `${id}@${survey.cluster}`;
      if (!release) {
        fixed.push({ instance: where, release: current ?? '-', ok: false, error: 'no recorded release to apply' });
        continue;
      }
      try {
        await queueRollback(ctx, gateway, { app, env, release, cluster: survey.cluster, reapply: true }, `${release.id} on ${survey.cluster}`, { say });
        fixed.push({ instance: where, release: release.id, ok: true });
      } catch (e) {
        fixed.push({ instance: where, release: release.id, ok: false, error: (e as Error).message.split('\n').at(-1) ?? '' });
      }
    }
  }
  return fixed;
}
