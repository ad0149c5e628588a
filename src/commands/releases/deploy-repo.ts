import { basename, resolve } from 'node:path';
import { defineCommand } from '../../dispatch/command.js';
import { run } from '../../adapters/exec.js';
import { MagratheaError } from '../../core/errors.js';
import { checkName } from '../../core/values.js';
import type { DeployResult } from '../../deployer/job-types.js';
import { readManifest } from '../../builder/manifest.js';
import { submitDeploy } from '../../push/submit.js';
import { deployEnvironment, resolveCommit } from './deploy.js';
import { deployOutput } from './deploy-output.js';

/**
 * `magrathea deploy REPO_DIR`: a commit of any git repository on the
 * gateway's machine, exported, queued and followed to the end; the exit
 * status is the outcome. With no worker running, the deploy runs in this
 * process.
 */
export default defineCommand<DeployResult>({
  name: 'deploy',
  summary: 'build a commit of a git repository and deploy it to its environment\'s clusters; follows the progress',
  usage: 'REPO_DIR [--app NAME] [--ref REF] [--env ENV] [--cluster NAME] [--config DIR]',
  args: { values: ['app', 'ref', 'env', 'cluster'], positionals: [1, 1] },
  need: 'local',
  surfaces: ['cli'],
  async run(args, ctx) {
    const repo = resolve(ctx.io.cwd, args.positionals[0]!);
    const app = args.values.app ?? basename(repo);
    const head = await run('git', ['-C', repo, 'rev-parse', '--abbrev-ref', 'HEAD'], { reject: false });
    if (head.exitCode !== 0) throw new MagratheaError(`${repo}: not a git repository, or no such commit (${head.stderr.trim()})`, 'bad-repository');
    const ref = args.values.ref ?? head.stdout.trim();
    const commit = await resolveCommit(repo, ref);
    const problem = checkName(app);
    if (problem) throw new MagratheaError(`app name: ${problem}${args.values.app === undefined ? ` (taken from the directory ${repo}; give one with --app)` : ''}`, 'invalid-app-name');
    // From git's objects, as the push hook reads it: a tag or commit no push validated may hold a link at its name.
    const manifest = await readManifest({ repo, rev: commit, ref }, `${app}@${ref}:magrathea.yml`);
    const env = deployEnvironment(manifest, app, ref, args.values.env);
    const request = { app, env, commit, ref, gitDir: repo, requestedBy: ctx.user.name, ...(args.values.cluster ? { clusters: [args.values.cluster] } : {}) };
    return submitDeploy(await ctx.gateway(), request, { ...deployOutput(ctx), configDir: ctx.configDir });
  },
  text: (result) => result.summary,
});
