import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { formatTable } from '../../core/table.js';
import { checkName } from '../../core/values.js';
import { listPendingDeploys, type DeployJobSummary } from '../../deployer/deploy-jobs.js';
import { existingApp } from '../targets.js';

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
 * one's id is what `deploys:follow APP JOB` follows. Whoever may see the
 * app's releases may see them.
 */
export default defineCommand<{ app: string; deploys: DeployJobSummary[] }>({
  name: 'deploys',
  summary: "an app's deploys and rollbacks queued or running, whoever started them (deploys:follow shows one live)",
  usage: 'APP [--env ENV] [--json]',
  args: { values: ['env'], booleans: ['json'], positionals: [1, 1] },
  need: 'read',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const app = await existingApp(ctx, 'deploys', args.positionals[0]!);
    const problem = args.values.env === undefined ? undefined : checkName(args.values.env);
    if (problem) throw new UsageError(`deploys: --env: ${problem}`);
    return { app, deploys: await listPendingDeploys((await ctx.gateway()).queue.queue, app, args.values.env) };
  },
  text: ({ app, deploys }) => deploysTable(app, deploys),
  json: ({ deploys }) => deploys,
});
