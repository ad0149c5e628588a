import { defineCommand } from '../../dispatch/command.js';
import { run } from '../../adapters/exec.js';
import { UsageError } from '../../core/errors.js';
import { targetForBranch } from '../../core/manifest/resolve.js';
import type { DeployResult } from '../../deployer/job-types.js';
import { readManifest } from '../../builder/manifest.js';
import { repoDir } from '../../push/repos.js';
import { submitDeploy } from '../../push/submit.js';
import { existingApp } from '../targets.js';
import { deployOutput } from './deploy-output.js';

/**
 * A branch before a tag of the same name, then anything else git resolves
 * (a commit id): git itself would take the tag, so that a tag named
 * `master` would otherwise shadow the branch the push hook checked.
 */
async function fullRef(repo: string, ref: string): Promise<string> {
  for (const full of [`refs/heads/${ref}`, `refs/tags/${ref}`]) {
    if ((await run('git', ['-C', repo, 'show-ref', '--verify', '--quiet', full], { reject: false })).exitCode === 0) return full;
  }
  return ref;
}

/** The commit `ref` names in `repo`, full sha; a UsageError when it names none. */
export async function resolveCommit(repo: string, ref: string): Promise<string> {
  const found = await run('git', ['-C', repo, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { reject: false });
  if (found.exitCode !== 0) throw new UsageError(`deploy: ${JSON.stringify(ref)} is not a commit of ${repo}`);
  return found.stdout.trim();
}

/** The environment `--env` names, or the one `ref`'s branch feeds. */
export function deployEnvironment(manifest: Awaited<ReturnType<typeof readManifest>>, app: string, ref: string, env: string | undefined): string {
  const target = env === undefined ? targetForBranch(manifest, ref.replace(/^refs\/heads\//, '')) : undefined;
  if (target && 'error' in target) throw new UsageError(`deploy: ${target.error}`);
  const found = env ?? target?.environment.name;
  if (found) return found;
  const known = manifest.environments.map((e) => `${e.name} (branch ${e.branch})`).join(', ');
  throw new UsageError(`deploy: no environment of ${app} is fed by ${ref.replace(/^refs\/heads\//, '')}; choose one with --env: ${known}`);
}

/** `deploy APP [REF]`: the app again from its repository on the gateway, followed to the end. */
export default defineCommand<DeployResult>({
  name: 'deploy',
  summary: 'deploy an app again from its repository on the gateway (REF: a branch or commit; default: the gateway\'s default_branch)',
  usage: 'APP [REF] [--env ENV]',
  args: { values: ['env'], positionals: [1, 2] },
  need: 'deploy',
  surfaces: ['ssh', 'http'],
  app: true,
  async run(args, ctx) {
    const app = await existingApp(ctx, 'deploy', args.positionals[0]!);
    const gateway = await ctx.gateway();
    const name = args.positionals[1] ?? gateway.config.gateway.defaultBranch;
    if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/.test(name) || name.includes('..')) throw new UsageError(`deploy: ${JSON.stringify(name)} is not a branch or commit`);
    const repo = repoDir(gateway.config.gateway.stateDir, app);
    const ref = await fullRef(repo, name);
    const commit = await resolveCommit(repo, ref);
    // From git's objects, as the push hook reads it: a tag or commit no push validated may hold a link at its name.
    const manifest = await readManifest({ repo, rev: commit, ref }, `${app}@${ref}:magrathea.yml`);
    const env = deployEnvironment(manifest, app, ref, args.values.env);
    return submitDeploy(gateway, { app, env, commit, ref, gitDir: repo, requestedBy: ctx.user.name }, { ...deployOutput(ctx), configDir: ctx.configDir });
  },
  text: (result) => result.summary,
});
