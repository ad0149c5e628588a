import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { CommandFailure, MagratheaError, UsageError } from '../../core/errors.js';
import { checkPanel, type PanelCheck } from '../../deployer/ispconfig-check.js';

/**
 * `ispconfig check --cluster C`: whether the gateway can work with the
 * cluster's ISPConfig panel: it logs in, finds the function groups the
 * remote user lacks among those Magrathea calls, matches the panel's
 * servers to the cluster's hosts, and says what to fix. Exits 1 on a
 * problem.
 */
export default defineCommand<PanelCheck>({
  name: 'ispconfig check',
  summary: "check a cluster's ISPConfig panel: the login, the remote user's function groups, its servers (admins)",
  usage: '--cluster CLUSTER [--json]',
  args: { booleans: ['json'], values: ['cluster'] },
  need: 'admin',
  surfaces: EVERYWHERE,
  async run(args, ctx) {
    const name = args.values.cluster;
    if (!name) throw new UsageError('ispconfig check: name the cluster: --cluster CLUSTER');
    const config = await ctx.config();
    const cluster = config.clusters[name];
    if (!cluster) throw new MagratheaError(`ispconfig check: no cluster ${name} in ${config.dir}/clusters.yml`, 'unknown-cluster');
    const { ispconfig } = cluster;
    if (!ispconfig) throw new MagratheaError(`ispconfig check: cluster ${name} has no ispconfig: panel in ${config.dir}/clusters.yml`, 'no-panel');
    const report = await checkPanel({ ...cluster, ispconfig });
    if (report.problems.length > 0) throw new CommandFailure(`ispconfig check: ${report.problems.length} problem(s) with the panel of ${name}`, 'ispconfig-problems', report);
    return report;
  },
  text: (r) =>
    [
      `${r.cluster}: ISPConfig at ${r.url} as ${r.user}: login ${r.login === 'ok' ? 'ok' : 'FAILED'}`,
      `function groups: ${r.missing.length === 0 ? 'every one needed is granted' : `missing ${r.missing.map((m) => `"${m.group}"`).join(', ')}`}`,
      ...r.servers.map((s) => `server ${s.id} ${s.hostname} ${s.ip}: ${s.host ? `host ${s.host}` : 'not a host of the cluster'}${s.id === r.dbServer ? ' (the db host)' : ''}`),
      ...r.problems.map((p) => `problem: ${p}`),
      '',
    ].join('\n'),
});
