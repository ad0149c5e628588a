import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { undeployApp } from '../../deployer/undeploy-app.js';
import { appExists, destroyRepo } from '../../push/repos.js';
import { destroyAppKeys } from '../../state/destroy-app.js';
import { appName } from '../targets.js';

interface Destroyed {
  app: string;
  existed: boolean;
  instances: number;
  clusters: number;
  seconds: number;
}

/**
 * `apps:destroy APP`: the app off every host first (should one fail, the
 * gateway still knows everything a second run needs), then its keys and
 * repository. Run again after it succeeded, it finds nothing and succeeds:
 * a destroy that was cut short can always be finished.
 */
export default defineCommand<Destroyed>({
  name: 'apps:destroy',
  summary: 'remove an app from every host, then its repository and history (admins; asks for the app name)',
  usage: 'APP [--confirm APP]',
  args: { values: ['confirm'], positionals: [1, 1] },
  need: 'admin',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const app = appName('apps:destroy', args.positionals[0]!);
    const stateDir = (await ctx.config()).gateway.stateDir;
    const existed = appExists(stateDir, app);
    const answer = args.values.confirm ?? (await ctx.ask?.(`type the app's name (${app}) to destroy it: `));
    if (answer?.trim() !== app) throw new UsageError(`apps:destroy: not confirmed; nothing removed (give --confirm ${app}, or type the name)`);
    const gateway = await ctx.gateway();
    // A deploy running or waiting would put the app back on a cluster once the destroy has left it.
    const deploys = (await gateway.queue.queue.getJobs(['active', 'waiting', 'delayed', 'prioritized'])).filter((j) => j?.data.app === app);
    if (deploys.length > 0) throw new MagratheaError(`apps:destroy: a deploy of ${app} is running or queued (job ${deploys.map((j) => j.id).join(', ')}); nothing removed: run apps:destroy once it has ended`, 'deploy-running');
    const removed = await undeployApp({ app, config: await ctx.config(), redis: gateway.state, log: (l) => ctx.io.stderr.write(`${l}\n`), report: (l) => ctx.io.stdout.write(`${l}\n`) }).catch((e: unknown) => {
      throw new MagratheaError(`apps:destroy: ${(e as Error).message}\nthe gateway keeps ${app} (repository, releases, config vars): run apps:destroy ${app} again`, e instanceof MagratheaError ? e.code : 'destroy-failed', 1, true, { cause: e });
    });
    await destroyAppKeys(gateway.state, app);
    await destroyRepo(stateDir, app);
    return { app, existed, ...removed };
  },
  text: (d) => {
    const where = d.instances === 0 ? 'it was on no host' : `${d.instances} instance(s) removed from ${d.clusters} cluster(s) in ${d.seconds.toFixed(1)} s`;
    return d.existed || d.instances > 0 ? `gateway: destroyed ${d.app}: its repository, releases, config vars and history (${where})\n` : `gateway: no app ${d.app}, and no host serves it: nothing to destroy\n`;
  },
});
