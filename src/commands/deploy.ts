import { rm } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { run } from '../adapters/exec.js';
import { checkoutDir, exportTree, sourceDir } from '../builder/build-release.js';
import { sourceFields } from '../builder/source-link.js';
import { InvalidInputError, MagratheaError, UsageError } from '../core/errors.js';
import { environmentForBranch } from '../core/manifest/resolve.js';
import { MANIFEST_FILE, validateManifest } from '../core/manifest/validate.js';
import { checkName } from '../core/values.js';
import { readManifestBlob } from '../push/manifest-blob.js';
import { parseArgs } from './args.js';
import { followWithWorker, openGatewayContext } from '../gateway/context.js';
import type { Command } from './types.js';

const usage = 'REPO_DIR [--app NAME] [--ref REF] [--env ENV] [--cluster NAME] [--config DIR]';

/**
 * `magrathea deploy`: exports a commit of a git repository, queues its
 * deploy and follows it to the end; the exit status is the outcome. With no
 * worker running, the deploy runs in this process.
 */
export const deployCommand: Command = {
  name: 'deploy',
  summary: 'build a commit of a git repository and deploy it to its environment\'s clusters; follows the progress',
  usage,
  async run(args, io) {
    const parsed = parseArgs('deploy', usage, args, { values: ['app', 'ref', 'env', 'cluster', 'config'], positionals: [1, 1] });
    const repo = resolve(io.cwd, parsed.positionals[0]!);
    const appName = parsed.values.app ?? basename(repo);
    const ref = parsed.values.ref ?? (await git(repo, ['rev-parse', '--abbrev-ref', 'HEAD']));
    const commit = await git(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).catch(() => {
      throw new UsageError(`deploy: ${JSON.stringify(ref)} is not a commit of ${repo}`);
    });

    const problem = checkName(appName);
    if (problem) throw new MagratheaError(`app name: ${problem}${parsed.values.app === undefined ? ` (taken from the directory ${repo}; give one with --app)` : ''}`, 'invalid-app-name');
    // From git's objects, as the push hook reads it: a tag or commit no push validated may hold a link at its name.
    const text = await readManifestBlob(repo, commit, ref);
    if (text === undefined) throw new MagratheaError(`${MANIFEST_FILE}: missing at the root of ${ref}: every commit Magrathea deploys needs one`, 'manifest-missing');
    const validated = validateManifest(text, `${appName}@${ref}:${MANIFEST_FILE}`);
    if ('problems' in validated) throw new InvalidInputError(validated.problems);
    const manifest = validated.manifest;

    const gateway = await openGatewayContext(parsed.values.config);
    const tree = sourceDir(gateway.config.gateway.stateDir, appName, commit);
    try {
      await exportTree(repo, commit, tree, checkoutDir(gateway.config.gateway.stateDir, appName));
      const branch = ref.replace(/^refs\/heads\//, '');
      const env = parsed.values.env ?? environmentForBranch(manifest, branch)?.name;
      if (!env) {
        const known = manifest.environments.map((e) => `${e.name} (branch ${e.branch})`).join(', ');
        throw new UsageError(`deploy: no environment of ${appName} is fed by ${branch}; choose one with --env: ${known}`);
      }
      const jobId = await gateway.queue.enqueueDeploy({
        app: appName,
        env,
        commit,
        ref,
        requestedBy: io.user ?? (process.env.SUDO_USER || process.env.USER || 'cli'),
        sourcePath: tree,
        ...(await sourceFields(gateway.config, tree)),
        ...(parsed.values.cluster ? { clusters: [parsed.values.cluster] } : {}),
      });
      io.stdout.write(`deploy ${jobId}: ${appName} (${env}) at ${commit.slice(0, 12)}\n`);
      const result = await followWithWorker(gateway, jobId, parsed.values.config, (line) => io.stdout.write(`${line}\n`));
      io.stdout.write(result.summary);
    } finally {
      await rm(tree, { recursive: true, force: true });
      await gateway.close();
    }
  },
};

async function git(repo: string, args: string[]): Promise<string> {
  try {
    return (await run('git', ['-C', repo, ...args])).stdout.trim();
  } catch (e) {
    throw new MagratheaError(`${repo}: not a git repository, or no such commit (${(e as Error).message})`, 'bad-repository');
  }
}
