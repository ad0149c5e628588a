import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { rotateInstancePassword } from '../../state/instance-passwords.js';
import { databaseTarget } from './target.js';

interface Rotated {
  app: string;
  env: string;
  cluster: string;
  host: string;
  user: string;
}

/**
 * `db:rotate APP@CLUSTER`: a new password for the instance's database
 * user, kept on the gateway. The next deploy sets it on the db host and
 * gives it to the app at once; the current one works until then.
 */
export default defineCommand<Rotated>({
  name: 'db:rotate',
  summary: "a new password for an instance's database user, set by its next deploy (the current one works until then)",
  usage: 'APP@CLUSTER [--env ENV] [--json]',
  args: { values: ['env'], booleans: ['json'], positionals: [1, 1] },
  need: 'config',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const target = await databaseTarget(ctx, 'db:rotate', args.positionals[0]!, args.values.env);
    await target.close();
    await rotateInstancePassword((await ctx.gateway()).state, 'database', target, target.cluster.name);
    return { app: target.app, env: target.env, cluster: target.cluster.name, host: target.host.name, user: target.credentials.user };
  },
  text: (r) =>
    `${r.app}@${r.cluster} (${r.env}): a new password for ${r.user} is kept; the next deploy of ${r.env} sets it on ${r.host} and gives it to the app (the current password works until then)\n`,
});
