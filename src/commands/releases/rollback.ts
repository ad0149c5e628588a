import { defineCommand, EVERYWHERE, type CommandContext } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { checkName } from '../../core/values.js';
import type { DeployResult } from '../../deployer/job-types.js';
import { followWithWorker, type GatewayContext } from '../../dispatch/context.js';
import { readInstanceReleases } from '../../state/host-releases.js';
import { listReleaseEnvs, listReleases, type Release } from '../../state/releases.js';
import { deployOutput, type DeployOutput } from './deploy-output.js';
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

    return queueRollback(ctx, gateway, { app, env, release, ...(cluster ? { cluster } : {}) }, `from ${current} to ${target}`, deployOutput(ctx));
  },
  text: (result) => result.summary,
});

/**
 * A rollback job for `release` of app (env), on `cluster` or all of its
 * clusters, queued behind the app's other deploys and followed to its end;
 * `reapply`: every config file shipped again, changed or not (doctor --fix).
 */
export async function queueRollback(
  ctx: CommandContext,
  gateway: GatewayContext,
  target: { app: string; env: string; release: Release; cluster?: string; reapply?: true },
  what: string,
  output: DeployOutput,
): Promise<DeployResult> {
  const { app, env, release, cluster } = target;
  const jobId = await gateway.queue.enqueueDeploy({
    app, env, commit: release.commit, ref: release.ref, requestedBy: ctx.user.name,
    sourcePath: gateway.config.gateway.stateDir, rollbackTo: release.id, ...(cluster ? { clusters: [cluster] } : {}), ...(target.reapply ? { reapply: true } : {}),
  });
  output.say(`${target.reapply ? 'apply again' : 'rollback'} ${jobId}: ${app} (${env}) ${what}`);
  return followWithWorker(gateway, jobId, ctx.configDir, output.say, output.onEvent ? { onEvent: output.onEvent } : {});
}
