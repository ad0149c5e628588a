import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { createRepo } from '../../push/repos.js';
import { appName } from '../targets.js';

/** `apps:create APP`: the app's git repository on the gateway, with Magrathea's hooks. */
export default defineCommand<{ app: string }>({
  name: 'apps:create',
  summary: 'create an app: its git repository on the gateway (admins)',
  usage: 'APP',
  args: { positionals: [1, 1] },
  need: 'admin',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const app = appName('apps:create', args.positionals[0]!);
    const config = await ctx.config();
    await createRepo(config.gateway.stateDir, app, ctx.configDir, config.gateway.builds);
    return { app };
  },
  text: ({ app }) => `created ${app}\nnext: git remote add magrathea <this gateway>:${app} && git push magrathea master\n`,
});
