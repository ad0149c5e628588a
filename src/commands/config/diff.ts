import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { InvalidInputError, UsageError } from '../../core/errors.js';
import { diffInstances, formatDifferences, type ConfigDifference } from '../../core/manifest/explain.js';
import { resolveInstance } from '../../core/manifest/resolve.js';
import { checkName } from '../../core/values.js';
import { readEnvironmentConfigVars } from '../../state/config-vars.js';
import { appEnvironment, existingApp } from '../targets.js';

interface Diffed {
  app: string;
  env: string;
  clusters: [string, string];
  differences: ConfigDifference[];
}

/** `config:diff APP CLUSTER_A CLUSTER_B`: what two instances of an app are given differently, key by key, with each side's layer. */
export default defineCommand<Diffed>({
  name: 'config:diff',
  summary: 'the keys of the effective configuration that differ between app on two clusters, each side with its layer and source line',
  usage: 'APP CLUSTER_A CLUSTER_B [--env ENV] [--reveal] [--json]',
  args: { values: ['env'], booleans: ['reveal', 'json'], positionals: [3, 3] },
  need: 'config',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const [name, ...clusters] = args.positionals as [string, string, string];
    for (const cluster of clusters) {
      const problem = checkName(cluster);
      if (problem) throw new UsageError(`config:diff: cluster ${JSON.stringify(cluster)}: ${problem}`);
    }
    if (clusters[0] === clusters[1]) throw new UsageError(`config:diff: name two different clusters (${clusters[0]} twice)`);
    const app = await existingApp(ctx, 'config:diff', name);
    const { manifest, environment } = await appEnvironment(ctx, app, args.values.env);
    const vars = await readEnvironmentConfigVars((await ctx.gateway()).state, app, environment);
    const [a, b] = clusters.map((cluster) => {
      const resolved = resolveInstance(manifest, { app, env: environment.name, cluster }, vars);
      if ('problems' in resolved) throw new InvalidInputError(resolved.problems);
      return resolved.instance;
    });
    return { app, env: environment.name, clusters: [clusters[0], clusters[1]], differences: diffInstances(a!, b!, args.flags.has('reveal')) };
  },
  text: (d) => {
    const head = `${d.app} (${d.env}) on ${d.clusters[0]} and ${d.clusters[1]}`;
    if (d.differences.length === 0) return `${head}: the same configuration\n`;
    return `${head}: ${d.differences.length} ${d.differences.length === 1 ? 'key differs' : 'keys differ'}\n\n${formatDifferences([`@${d.clusters[0]}`, `@${d.clusters[1]}`], d.differences)}`;
  },
});
