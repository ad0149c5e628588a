import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import type { Job, Queue } from 'bullmq';
import { NoDeployError, UsageError } from '../../core/errors.js';
import { formatTable } from '../../core/table.js';
import { checkName } from '../../core/values.js';
import { findAppDeploy, JOB_ID, listPendingDeploys, summarizeDeployJob, type DeployJobSummary } from '../../deployer/deploy-jobs.js';
import type { DeployJobData, DeployResult } from '../../deployer/job-types.js';
import { existingApp } from '../targets.js';

/** The app's job `id`, checked: a usage error naming `field` (`deploys:follow: JOB`) for what is not an id; NoDeployError for none of the app's (another app's included). */
export async function readAppDeploy(queue: Queue<DeployJobData, DeployResult>, field: string, app: string, id: string): Promise<Job<DeployJobData, DeployResult>> {
  if (!JOB_ID.test(id)) throw new UsageError(`${field}: ${JSON.stringify(id.slice(0, 40))} is not a deploy job id (a number, as deploys ${app} lists them)`);
  const job = await findAppDeploy(queue, app, id);
  if (!job) throw new NoDeployError(app, id);
  return job;
}

/** The jobs as a terminal shows them. */
export function deploysTable(app: string, jobs: readonly DeployJobSummary[]): string {
  if (jobs.length === 0) return `no deploy of ${app} is queued or running\n`;
  return formatTable([
    ['JOB', 'KIND', 'ENV', 'RELEASE/REF', 'COMMIT', 'CLUSTERS', 'BY', 'STATE', 'SINCE'],
    ...jobs.map((j) => [j.id, j.kind, j.env, j.release ?? j.ref.replace(/^refs\/heads\//, ''), j.commit.slice(0, 12), j.clusters?.join(',') ?? 'all', j.requestedBy, j.state === 'active' ? 'running' : j.state, j.since.replace(/\.\d+Z$/, 'Z')]),
  ]);
}

/**
 * `deploys APP`: the app's deploys and rollbacks that have not ended,
 * oldest first (the one running, then those waiting their turn), whoever
 * started them: a push, the command line, the API, the dashboard. Each
 * one's id is what `deploys:follow APP JOB` follows. `--job JOB`: that
 * job only, ended or not. Whoever may see the app's releases may see them.
 */
export default defineCommand<{ app: string; deploys: DeployJobSummary[] }>({
  name: 'deploys',
  summary: "an app's deploys and rollbacks queued or running, whoever started them (deploys:follow shows one live)",
  usage: 'APP [--env ENV] [--job JOB] [--json]',
  args: { values: ['env', 'job'], booleans: ['json'], positionals: [1, 1] },
  need: 'read',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const app = await existingApp(ctx, 'deploys', args.positionals[0]!);
    const problem = args.values.env === undefined ? undefined : checkName(args.values.env);
    if (problem) throw new UsageError(`deploys: --env: ${problem}`);
    const { queue } = (await ctx.gateway()).queue;
    if (args.values.job !== undefined) {
      // One job, ended or not (the HTTP API checks this way that a job is the app's before following it).
      const job = await readAppDeploy(queue, 'deploys: --job', app, args.values.job);
      return { app, deploys: [summarizeDeployJob(job, await job.getState())] };
    }
    return { app, deploys: await listPendingDeploys(queue, app, args.values.env) };
  },
  text: ({ app, deploys }) => deploysTable(app, deploys),
  json: ({ deploys }) => deploys,
});
