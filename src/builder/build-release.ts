import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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

/** Where the gateway keeps an app's kept work tree (see exportTree), under its state directory. */
export function checkoutDir(stateDir: string, app: string): string {
  return join(stateDir, 'checkouts', app);
}

/** An app+environment's build workspace (see BuildReleaseOptions.workspace). */
export function workspaceDir(stateDir: string, app: string, env: string): string {
  return join(stateDir, 'builds', app, env);
}

/** Everything the builder keeps of an app on the gateway, to remove with it. */
export function builderPaths(stateDir: string, app: string): string[] {
  const checkout = checkoutDir(stateDir, app);
  return [checkout, `${checkout}.index`, `${checkout}.lock`, join(stateDir, 'builds', app)];
}

/** Where the export named `name` of app is (the HTTP API serves it from there to workers on other machines). */
export function exportDir(stateDir: string, app: string, name: string): string {
  return join(stateDir, 'sources', app, name);
}

/** A new directory for one export of app's commit: its name unique per process and call. */
export function sourceDir(stateDir: string, app: string, commit: string): string {
  return exportDir(stateDir, app, `${commit}-${process.pid}-${Date.now()}-${++exports}`);
}
let exports = 0;

/**
 * Run under the checkout's lock, with $1 the repository, $2 the commit, $3
 * the kept checkout and $4 the new export. read-tree -m -u touches only the
 * paths whose content changed (--reset would rewrite every file its index
 * holds as racily clean); should anything have written into the checkout,
 * its stray files are removed and a full --reset puts the tree back.
 * core.trustctime=false: each export's hard links change every file's
 * ctime, which would otherwise make every file look modified.
 */
const EXPORT_SCRIPT = `set -e
export GIT_INDEX_FILE="$3.index"
repo=$1 commit=$2 kept=$3 dest=$4
g() { git -C "$repo" -c core.trustctime=false --work-tree "$kept" "$@"; }
g read-tree -m -u "$commit^{tree}" 2>/dev/null || g read-tree --reset -u "$commit^{tree}"
g clean -q -f -d -x
g diff-files --quiet || g read-tree --reset -u "$commit^{tree}"
cp -al "$kept/." "$dest"`;

/**
 * Writes the tree of a commit into `dest` (created), as hard links to the
 * files of `checkout`, a work tree kept per app with an index of its own.
 * git's read-tree rewrites only the files that changed since the previous
 * export, and removes the ones that are gone, so an export costs a stat and
 * a link per file instead of writing the whole tree; unchanged files keep
 * their modification times. git replaces a changed file (a new inode) and
 * never writes into one, so an earlier export keeps its content. Exports
 * of one checkout take turns (flock). Works inside a pre-receive hook's
 * quarantine, and from any repository (a bare one, or a work tree's).
 */
export async function exportTree(repo: string, commit: string, dest: string, checkout: string): Promise<void> {
  const [from, to, kept] = [resolve(repo), resolve(dest), resolve(checkout)];
  await mkdir(kept, { recursive: true });
  await mkdir(to, { recursive: true });
  await step('export', () => run('flock', [`${kept}.lock`, 'sh', '-c', EXPORT_SCRIPT, 'export', from, commit, kept, to]));
}

/**
 * Builds a release from an exported tree: runs
 * `composer install` when there is a composer.json and no build command
 * runs composer itself, then the manifest's build commands, writes a
 * REVISION file, and syncs the result into the workspace's `release/` by
 * content (rsync --checksum, without --times): a file whose bytes did not
 * change keeps its old modification time, so the next rsync to the hosts
 * skips it, however the tree was written. Without commands to run, the
 * tree is synced as it is; with some, they run in a private copy of it.
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
  const commands = [...options.commands];
  if (existsSync(join(options.tree, 'composer.json')) && !commands.some((c) => /\bcomposer\b/.test(c))) {
    commands.unshift('composer install --no-dev --optimize-autoloader --no-interaction --no-progress');
  }
  if (commands.length === 0) {
    // Nothing to run: the tree is the release, with a REVISION file.
    await step('stage', () => run('rsync', ['-rlpc', '--delete', '--exclude=/REVISION', `${options.tree}/`, `${release}/`]));
    await writeFile(join(release, 'REVISION'), `${options.commit}\n`);
    return { dir: release, commands };
  }

  // The build runs in a copy: its commands may write anywhere in the tree.
  const fresh = join(scratch, 'tree');
  const home = join(scratch, 'home');
  await mkdir(fresh);
  await mkdir(home);
  await step('export', () => run('cp', ['-a', `${options.tree}/.`, fresh]));
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, COMPOSER_HOME: join(home, 'composer'), LANG: 'C.UTF-8', ...options.env };
  // Whoever can push can write build commands: as root, they run as nobody, in a tree nobody owns.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await run('chown', ['-R', `${BUILD_USER}:${BUILD_GROUP}`, fresh, home]);
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
      throw new MagratheaError(`${name} failed with exit code ${e.exitCode}${killed}: ${e.message.replace(/^[\s\S]*? exited with \d+: ?/, '')}`, 'build-failed', 1, false, { cause: e });
    }
    throw e;
  }
}
