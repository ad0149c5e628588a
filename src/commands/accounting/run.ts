import { defineCommand } from '../../dispatch/command.js';
import { formatRun, runAccounting, type AccountingRun } from '../../accounting/run-accounting.js';
import { CommandFailure, UsageError } from '../../core/errors.js';
import { chunkSize } from './chunk.js';

/** `magrathea accounting run`: the accounting job now, in this process. */
export default defineCommand<AccountingRun>({
  name: 'accounting run',
  summary: 'run the accounting job now, in this process: disk per instance on every web host, new edge log lines of every cache host (--chunk: bytes read and counted per step, default 32M)',
  usage: '[--cluster NAME] [--chunk SIZE] [--json] [--config DIR]',
  args: { values: ['cluster', 'chunk'], booleans: ['json'] },
  need: 'local',
  surfaces: ['cli'],
  async run(args, ctx) {
    const chunk = chunkSize(args.values.chunk);
    const gateway = await ctx.gateway();
    const cluster = args.values.cluster;
    if (cluster !== undefined && !gateway.config.clusters[cluster]) throw new UsageError(`accounting run: no cluster ${JSON.stringify(cluster)} in ${gateway.config.dir}/clusters.yml`);
    const run = await runAccounting({
      config: gateway.config,
      redis: gateway.state,
      ...(cluster ? { clusters: [cluster] } : {}),
      chunkBytes: chunk,
      log: args.flags.has('json') ? undefined : (line) => ctx.io.stdout.write(`${line}\n`),
    });
    const failed = run.visits.filter((v) => v.error).map((v) => `${v.cluster}/${v.host}`);
    if (failed.length > 0) throw new CommandFailure(`accounting run: ${failed.length} host(s) failed: ${failed.join(', ')}; the next run goes on from where they stopped`, 'accounting-failed', run);
    return run;
  },
  text: formatRun,
});
