import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { hostSshSettings } from '../../deployer/deploy.js';
import { redisDeployState } from '../../deployer/redis-state.js';
import { undeployCluster } from '../../deployer/undeploy-cluster.js';
import { findEnvironment } from '../../core/manifest/resolve.js';
import { readAppManifest } from '../../push/manifest.js';
import { existingTarget } from '../targets.js';

interface Removed {
  app: string;
  env: string;
  cluster: string;
  lines: string[];
}

/**
 * `instances:remove APP@CLUSTER`: one instance off the hosts of one
 * cluster, once the app's magrathea.yml (on the branch that feeds the
 * environment) no longer lists that cluster: else the next push would put
 * it back. A push of such a manifest says which instances are left. The
 * instance's database and its backups are kept (db:destroy removes them).
 */
export default defineCommand<Removed>({
  name: 'instances:remove',
  summary: "take an app off a cluster its magrathea.yml no longer lists for the environment (admins; asks for the app name; its database is kept)",
  usage: 'APP@CLUSTER [--env ENV] [--confirm APP]',
  args: { values: ['env', 'confirm'], positionals: [1, 1] },
  need: 'admin',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const { app, cluster: name } = await existingTarget(ctx, 'instances:remove', args.positionals[0]!);
    if (!name) throw new UsageError(`instances:remove: name the cluster: ${app}@CLUSTER`);
    const config = await ctx.config();
    const cluster = config.clusters[name];
    if (!cluster) throw new UsageError(`instances:remove: no cluster ${JSON.stringify(name)} in ${config.dir}/clusters.yml (clusters: ${Object.keys(config.clusters).sort().join(', ')})`);
    const gateway = await ctx.gateway();
    const state = redisDeployState(gateway.state);
    const live = (await state.clusterInstances(name)).filter((i) => i.app === app && (args.values.env === undefined || i.env === args.values.env));
    if (live.length === 0) throw new MagratheaError(`instances:remove: ${app}${args.values.env ? ` (${args.values.env})` : ''} is not live on ${name}; nothing removed`, 'not-live');
    if (live.length > 1) throw new UsageError(`instances:remove: ${app} is live on ${name} in ${live.map((i) => i.env).join(' and ')}: name one with --env`);
    const instance = live[0]!;
    const manifest = await readAppManifest(config, app, `refs/heads/${instance.branch}`).catch(() => undefined);
    // A review instance (review-x) by its pattern environment's clusters.
    if (manifest && findEnvironment(manifest, instance.env)?.clusters.includes(name)) {
      throw new MagratheaError(`instances:remove: ${app}'s magrathea.yml on ${instance.branch} still lists ${name} for ${instance.env}: take it out there and push first, or the next push puts it back; nothing removed`, 'still-listed');
    }
    const answer = args.values.confirm ?? (await ctx.ask?.(`type the app's name (${app}) to take ${instance.env} off ${name}: `));
    if (answer?.trim() !== app) throw new UsageError(`instances:remove: not confirmed; nothing removed (give --confirm ${app}, or type the name)`);
    // A deploy running or waiting would put it back once removed.
    const deploys = (await gateway.queue.queue.getJobs(['active', 'waiting', 'delayed', 'prioritized'])).filter((j) => j?.data.app === app && j.data.env === instance.env);
    if (deploys.length > 0) throw new MagratheaError(`instances:remove: a deploy of ${app} (${instance.env}) is running or queued (job ${deploys.map((j) => j.id).join(', ')}); nothing removed: run it again once that has ended`, 'deploy-running');
    const outcome = await undeployCluster({ cluster, instances: [instance], ssh: hostSshSettings(config), state, log: (l) => ctx.io.stderr.write(`${l}\n`) });
    return { app, env: instance.env, cluster: name, lines: outcome.lines };
  },
  text: (r) => `${r.lines.join('\n')}\n${r.app} (${r.env}) is no longer on ${r.cluster}; its database there, if any, is kept (db:destroy ${r.app}@${r.cluster} removes it)\n`,
});
