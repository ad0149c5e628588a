import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, run } from '../adapters/exec.js';
import { MagratheaError } from '../core/errors.js';

const BUILD_USER = 'nobody';
const BUILD_GROUP = 'nogroup';

export interface BuildReleaseOptions {
  /** The commit's tree, as exportTree wrote it; left untouched. */
  tree: string;
  /** Full commit id, written to REVISION. */
  commit: string;
  /**
   * The app+environment's build workspace, kept between builds
   * (`<state>/builds/<app>/<env>`): its `release/` keeps the modification
   * time of every file whose content did not change, so that rsync to the
   * hosts sends, and `--link-dest` copies, only what changed.
   */
  workspace: string;
  /** The manifest's `build` commands, run in order with `sh -c` in the exported tree. */
  commands: string[];
  /** Environment of the build commands, added to a minimal PATH/HOME. */
  env?: Record<string, string>;
  /** Each line the build prints. */
  log?: (line: string) => void;
  /** Per command. Default 10 minutes. */
  timeout?: number;
}

export interface BuiltRelease {
  /** The tree to ship: `<workspace>/release`. */
  dir: string;
  /** The commands that ran, `composer install` included when it was added. */
  commands: string[];
}

/**
 * Writes the tree of a commit into `dest` (created; must not exist):
 * `git archive`, which also works inside a pre-receive hook's quarantine.
 */
export async function exportTree(repo: string, commit: string, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  const archive = `${dest}.tar`;
  try {
    await step('export', () => run('git', ['-C', repo, 'archive', '--format=tar', '-o', archive, commit]));
    await step('export', () => run('tar', ['-xf', archive, '-C', dest]));
  } finally {
    await rm(archive, { force: true });
  }
}

/**
 * Builds a release from an exported tree: runs
 * `composer install` when there is a composer.json and no build command
 * runs composer itself, then the manifest's build commands, writes a
 * REVISION file, and syncs the result into the workspace's `release/` by
 * content (rsync --checksum, without --times): a file whose bytes did not
 * change keeps its old modification time, so the next rsync to the hosts
 * skips it, whereas git archive stamps every file with the commit's time.
 */
export async function buildRelease(options: BuildReleaseOptions): Promise<BuiltRelease> {
  const { workspace, log = () => {} } = options;
  const release = join(workspace, 'release');
  await mkdir(release, { recursive: true });
  // The build itself happens in a private temporary directory (traversable by the build user wherever the state dir is).
  const scratch = await mkdtemp(join(tmpdir(), 'magrathea-build-'));
  try {
    return await buildIn(scratch, release, options, log);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function buildIn(scratch: string, release: string, options: BuildReleaseOptions, log: (line: string) => void): Promise<BuiltRelease> {
  const fresh = join(scratch, 'tree');
  const home = join(scratch, 'home');
  await mkdir(fresh);
  await mkdir(home);

  await step('export', () => run('cp', ['-a', `${options.tree}/.`, fresh]));

  const commands = [...options.commands];
  if (existsSync(join(fresh, 'composer.json')) && !commands.some((c) => /\bcomposer\b/.test(c))) {
    commands.unshift('composer install --no-dev --optimize-autoloader --no-interaction --no-progress');
  }
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, COMPOSER_HOME: join(home, 'composer'), LANG: 'C.UTF-8', ...options.env };
  // Whoever can push can write build commands: as root, they run as nobody, in a tree nobody owns.
  const asRoot = process.getuid?.() === 0;
  if (asRoot && commands.length > 0) await run('chown', ['-R', `${BUILD_USER}:${BUILD_GROUP}`, fresh, home]);
  for (const command of commands) {
    log(`$ ${command}`);
    const [file, args] = asRoot
      ? ['setpriv', [`--reuid=${BUILD_USER}`, `--regid=${BUILD_GROUP}`, '--clear-groups', '--', 'sh', '-c', command]]
      : ['sh', ['-c', command]];
    await step(`build: ${command}`, () => run(file, args as string[], { cwd: fresh, env, extendEnv: false, timeout: options.timeout ?? 600_000, onLine: (line) => log(line) }));
  }

  await writeFile(join(fresh, 'REVISION'), `${options.commit}\n`);
  // --checksum without --times: unchanged content keeps release/'s old mtime.
  await step('stage', () => run('rsync', ['-rlpc', '--delete', `${fresh}/`, `${release}/`]));
  return { dir: release, commands };
}

/** Names the build step in the error, keeping the command's own exit code and stderr tail. */
async function step<T>(name: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    if (e instanceof CommandError) {
      const killed = e.exitCode === 127 && /timed out|ENOENT/.test(e.stderr) ? ` (${/timed out/.test(e.stderr) ? 'timed out' : 'not found'})` : '';
      // A failing build is the app's to fix: retrying the job cannot help.
      throw new MagratheaError(`${name} failed with exit code ${e.exitCode}${killed}: ${e.message.replace(/^.*? exited with \d+: ?/, '')}`, 'build-failed', 1, false, { cause: e });
    }
    throw e;
  }
}
