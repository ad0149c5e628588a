import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { InvalidInputError } from '../../core/errors.js';
import { explainInstance, type ExplainedValue } from '../../core/manifest/explain.js';
import { resolveInstance } from '../../core/manifest/resolve.js';
import { readEnvironmentConfigVars } from '../../state/config-vars.js';
import { appEnvironment, existingTarget } from '../targets.js';

/** The config vars of an app, masked unless revealed: the app's own, then each cluster's. */
interface ShownVars {
  app: Record<string, string>;
  clusters: Record<string, Record<string, string>>;
}

type Shown = { kind: 'vars'; app: string; env: string; vars: ShownVars } | { kind: 'instance'; values: ExplainedValue[]; text: string };

/** `config:show APP[@CLUSTER]`: the config vars of an app, or the effective configuration of one instance with the layer of each value. */
export default defineCommand<Shown>({
  name: 'config:show',
  summary: 'the effective configuration of app@cluster with the layer of each value, or the config vars of app (masked unless --reveal)',
  usage: 'APP[@CLUSTER] [--env ENV] [--reveal] [--json]',
  args: { values: ['env'], booleans: ['reveal', 'json'], positionals: [1, 1] },
  need: 'config',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const { app, cluster } = await existingTarget(ctx, 'config:show', args.positionals[0]!);
    const { manifest, environment } = await appEnvironment(ctx, app, args.values.env);
    const vars = await readEnvironmentConfigVars((await ctx.gateway()).state, app, environment);
    const reveal = args.flags.has('reveal');
    if (cluster === undefined) {
      const mask = (values: Record<string, string>) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, reveal ? v : '********']));
      return { kind: 'vars', app, env: environment.name, vars: { app: mask(vars.app), clusters: Object.fromEntries(Object.entries(vars.clusters).map(([c, v]) => [c, mask(v)])) } };
    }
    const resolved = resolveInstance(manifest, { app, env: environment.name, cluster }, vars);
    if ('problems' in resolved) throw new InvalidInputError(resolved.problems);
    const explained = explainInstance(resolved.instance, reveal);
    return { kind: 'instance', values: explained.values, text: explained.text };
  },
  text: (shown) => {
    if (shown.kind === 'instance') return shown.text;
    const lines = [`config vars of ${shown.app} (${shown.env}):`, ...Object.entries(shown.vars.app).map(([k, v]) => `  ${k}=${v}`)];
    for (const [c, values] of Object.entries(shown.vars.clusters)) lines.push(...Object.entries(values).map(([k, v]) => `  ${k}=${v}  (@${c})`));
    return `${lines.join('\n')}\n`;
  },
  json: (shown) => (shown.kind === 'instance' ? shown.values : shown.vars),
});
