import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineCommand } from '../../dispatch/command.js';
import { InvalidInputError, MagratheaError } from '../../core/errors.js';
import { explainInstance, type Explanation } from '../../core/manifest/explain.js';
import { environmentForBranch, resolveInstance } from '../../core/manifest/resolve.js';
import { readApp } from '../../builder/manifest.js';

/** `magrathea explain`: the effective configuration of one instance, each value with the layer it came from. */
export default defineCommand<Explanation>({
  name: 'explain',
  summary: 'show the effective configuration of an app on a cluster, with the layer of each value',
  usage: 'APP_DIR --cluster NAME [--env ENV] [--app NAME] [--config DIR] [--json]',
  args: { values: ['cluster', 'env', 'app'], booleans: ['json'], positionals: [1, 1] },
  need: 'local',
  surfaces: ['cli'],
  async run(args, ctx) {
    const cluster = args.values.cluster;
    if (!cluster) throw new MagratheaError(`explain: --cluster is required\nusage: magrathea explain ${this.usage}`, 'usage', 2);
    const app = await readApp(resolve(ctx.io.cwd, args.positionals[0]!), args.values.app);
    // The default environment is the one fed by the gateway's default branch (master without a config).
    const defaultBranch = args.values.config || existsSync(`${ctx.configDir}/clusters.yml`) ? (await ctx.config()).gateway.defaultBranch : 'master';
    const env = args.values.env ?? environmentForBranch(app.manifest, defaultBranch)?.name;
    if (!env) {
      throw new MagratheaError(`explain: no environment of ${app.name} is fed by the default branch "${defaultBranch}"; choose one with --env (${app.manifest.environments.map((e) => e.name).join(', ')})`, 'usage', 2);
    }
    const result = resolveInstance(app.manifest, { app: app.name, env, cluster });
    if ('problems' in result) throw new InvalidInputError(result.problems);
    return explainInstance(result.instance);
  },
  text: (explained) => explained.text,
});
