import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { summarizeDeployJob } from '../../deployer/deploy-jobs.js';
import { readAppDeploy } from './deploys.js';
import type { DeployResult } from '../../deployer/job-types.js';
import { deployOutput } from '../releases/deploy-output.js';
import { existingApp } from '../targets.js';

/**
 * `deploys:follow APP JOB`: one deploy or rollback of the app, whoever
 * started it, from its first event to its end (one that ended already is
 * shown again from its record, kept a week): its lines, over the HTTP API
 * its events, then its result; the exit status is its outcome, as for the
 * one who started it. Following changes nothing: a follower that goes
 * away leaves the deploy running. A job of another app is answered as one
 * that does not exist.
 */
export default defineCommand<DeployResult>({
  name: 'deploys:follow',
  summary: 'follow one deploy or rollback of an app, live, to its end (JOB: an id deploys APP lists); exits with its outcome',
  usage: 'APP JOB',
  args: { positionals: [2, 2] },
  need: 'read',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const app = await existingApp(ctx, 'deploys:follow', args.positionals[0]!);
    const id = args.positionals[1]!;
    const gateway = await ctx.gateway();
    const job = await readAppDeploy(gateway.queue.queue, 'deploys:follow: JOB', app, id);
    const summary = summarizeDeployJob(job, await job.getState());
    const output = deployOutput(ctx);
    const what = summary.kind === 'deploy' ? `at ${summary.commit.slice(0, 12)} (${summary.ref.replace(/^refs\/heads\//, '')})` : `to ${summary.release}`;
    output.say(`${summary.kind} ${id}: ${app} (${summary.env}) ${what}${summary.clusters ? ` on ${summary.clusters.join(', ')}` : ''}, by ${summary.requestedBy}`);
    // The client going away (Ctrl-C, a closed page) ends the follow, not the deploy.
    const signal = ctx.session?.signal ?? ctx.live?.signal;
    try {
      return await gateway.queue.followDeploy(id, output.say, { ...(output.onEvent ? { onEvent: output.onEvent } : {}), ...(signal ? { signal } : {}) });
    } catch (e) {
      if (signal?.aborted) return { summary: `stopped following ${summary.kind} ${id}; it goes on` };
      throw e;
    }
  },
  text: (result) => result.summary,
});
