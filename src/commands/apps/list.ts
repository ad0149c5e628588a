import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { listApps } from '../../push/repos.js';

/** `apps:list`: the apps the user may see. */
export default defineCommand<string[]>({
  name: 'apps:list',
  summary: 'the apps you may see',
  usage: '[--json]',
  args: { booleans: ['json'] },
  need: 'none',
  surfaces: EVERYWHERE,
  async run(_args, ctx) {
    return (await listApps((await ctx.config()).gateway.stateDir)).filter((a) => ctx.may('read', a));
  },
  text: (apps) => apps.map((a) => `${a}\n`).join(''),
});
