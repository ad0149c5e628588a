import { defineCommand } from '../../dispatch/command.js';
import { renderEdgeLogRotate, renderEdgeLogUnit } from '../../core/accounting/edge-log.js';
import { UsageError } from '../../core/errors.js';

/** `magrathea accounting edge-log`: what a real cache host needs for the edge traffic log. */
export default defineCommand<{ unit: string; logrotate: string }>({
  name: 'accounting edge-log',
  summary: 'print what a real cache host needs for the edge traffic log: a systemd drop-in for varnishncsa and a logrotate file',
  usage: '[--cluster NAME] [--config DIR]',
  args: { values: ['cluster'] },
  need: 'local',
  surfaces: ['cli'],
  async run(args, ctx) {
    const config = await ctx.config();
    const name = args.values.cluster ?? Object.keys(config.clusters)[0]!;
    const cluster = config.clusters[name];
    if (!cluster) throw new UsageError(`accounting edge-log: no cluster ${JSON.stringify(name)} in ${config.dir}/clusters.yml`);
    return { unit: renderEdgeLogUnit(cluster.paths), logrotate: renderEdgeLogRotate(cluster.paths) };
  },
  text: (r) => `# /etc/systemd/system/varnishncsa.service.d/magrathea.conf\n${r.unit}\n# /etc/logrotate.d/magrathea-edge\n${r.logrotate}`,
});
