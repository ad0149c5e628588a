import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { setConfigVars } from '../../state/config-vars.js';
import { appEnvironment, existingTarget } from '../targets.js';

interface Changed {
  app: string;
  cluster?: string;
  env: string;
  keys: string[];
}

function pairs(items: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`config:set: ${JSON.stringify(item)} is not KEY=VALUE`);
    vars[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return vars;
}

/** `config:set APP[@CLUSTER] KEY=VALUE...`: config vars kept on the gateway, applied by the next deploy. */
export default defineCommand<Changed>({
  name: 'config:set',
  summary: 'set config vars of app (or app@cluster): applied by the next deploy',
  usage: 'APP[@CLUSTER] KEY=VALUE... [--env ENV]',
  args: { values: ['env'], positionals: [2, 100] },
  need: 'config',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const { app, cluster } = await existingTarget(ctx, 'config:set', args.positionals[0]!);
    const vars = pairs(args.positionals.slice(1));
    const { environment } = await appEnvironment(ctx, app, args.values.env);
    if (cluster !== undefined && !environment.clusters.includes(cluster)) throw new UsageError(`${app} (${environment.name}) does not deploy to ${cluster}`);
    await setConfigVars((await ctx.gateway()).state, app, environment.name, cluster, vars);
    return { app, ...(cluster ? { cluster } : {}), env: environment.name, keys: Object.keys(vars) };
  },
  text: (c) => `set ${c.keys.join(', ')} for ${c.app}${c.cluster ? `@${c.cluster}` : ''} (${c.env}); applied by the next deploy: ssh magrathea deploy ${c.app}\n`,
});
