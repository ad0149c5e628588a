import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { unsetConfigVars } from '../../state/config-vars.js';
import { appEnvironment, existingTarget } from '../targets.js';

interface Removed {
  app: string;
  cluster?: string;
  env: string;
  removed: number;
  asked: number;
}

/** `config:unset APP[@CLUSTER] KEY...`: applied by the next deploy. */
export default defineCommand<Removed>({
  name: 'config:unset',
  summary: 'remove config vars of app (or app@cluster): applied by the next deploy',
  usage: 'APP[@CLUSTER] KEY... [--env ENV]',
  args: { values: ['env'], positionals: [2, 100] },
  need: 'config',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const { app, cluster } = await existingTarget(ctx, 'config:unset', args.positionals[0]!);
    const { environment } = await appEnvironment(ctx, app, args.values.env);
    const keys = args.positionals.slice(1);
    const removed = await unsetConfigVars((await ctx.gateway()).state, app, environment.name, cluster, keys);
    return { app, ...(cluster ? { cluster } : {}), env: environment.name, removed, asked: keys.length };
  },
  text: (r) => `removed ${r.removed} of ${r.asked} vars from ${r.app}${r.cluster ? `@${r.cluster}` : ''} (${r.env}); applied by the next deploy: ssh magrathea deploy ${r.app}\n`,
});
