import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { checkName } from '../../core/values.js';
import type { DeployResult } from '../../deployer/job-types.js';
import { followWithWorker } from '../../dispatch/context.js';
import { readInstanceReleases } from '../../state/host-releases.js';
import { listReleaseEnvs, listReleases } from '../../state/releases.js';
import { existingTarget } from '../targets.js';

/**
 * `rollback APP[@CLUSTER] [RELEASE]`: back to the release before the live
 * one (or the one named), on every cluster of the environment or the one
 * named; queued like a deploy (one at a time per app and environment) and
 * followed to the end.
 */
export default defineCommand<DeployResult>({
  name: 'rollback',
  summary: 'back to the previous release (or RELEASE), on every cluster or app@cluster',
  usage: 'APP[@CLUSTER] [RELEASE] [--env ENV]',
  args: { values: ['to', 'env'], positionals: [1, 2] },
  need: 'rollback',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const { app, cluster } = await existingTarget(ctx, 'rollback', args.positionals[0]!);
    const to = args.positionals[1] ?? args.values.to;
    if (args.positionals[1] !== undefined && args.values.to !== undefined) throw new UsageError('rollback: give the release once, as RELEASE or --to RELEASE');
    const problem = args.values.env ? checkName(args.values.env) : undefined;
    if (problem) throw new UsageError(`rollback: ${problem}`);
    if (to !== undefined && !/^r[1-9][0-9]*$/.test(to)) throw new UsageError(`rollback: the release is an id like r3, not ${JSON.stringify(to)}`);

    const gateway = await ctx.gateway();
    const envs = args.values.env ? [args.values.env] : await listReleaseEnvs(gateway.state, app);
    if (envs.length !== 1) throw new UsageError(envs.length === 0 ? `rollback: ${app} has no releases` : `rollback: ${app} has several environments (${envs.join(', ')}): choose one with --env`);
    const env = envs[0]!;
    const live = await readInstanceReleases(gateway.state, app, env);
    const clusters = cluster ? [cluster] : Object.keys(live).sort();
    const current = live[clusters[0]!]?.release;
    if (!current) throw new UsageError(`rollback: ${app} (${env}) is not live on ${clusters[0] ?? 'any cluster'}`);
    const releases = await listReleases(gateway.state, app, env);
    // Default: the newest release older than the live one that went live (a failed one never served).
    const target = to ?? releases.find((r) => Number(r.id.slice(1)) < Number(current.slice(1)) && r.status !== 'failed' && r.status !== 'building')?.id;
    if (!target) throw new UsageError(`rollback: ${app} (${env}) has no release before ${current} to go back to`);
    const release = releases.find((r) => r.id === target);
    if (!release) throw new UsageError(`rollback: ${app} (${env}) has no release ${target}`);

    const jobId = await gateway.queue.enqueueDeploy({
      app, env, commit: release.commit, ref: release.ref, requestedBy: ctx.user.name,
      sourcePath: gateway.config.gateway.stateDir, rollbackTo: target, ...(cluster ? { clusters: [cluster] } : {}),
    });
    ctx.io.stdout.write(`rollback ${jobId}: ${app} (${env}) from ${current} to ${target}\n`);
    return followWithWorker(gateway, jobId, ctx.configDir, (line) => ctx.io.stdout.write(`${line}\n`));
  },
  text: (result) => result.summary,
});
