import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CommandError, run } from '../adapters/exec.js';
import type { BuildSettings } from '../core/config/types.js';
import { DEFAULT_BUILDS } from '../core/config/validate.js';
import { MagratheaError } from '../core/errors.js';
import { KILL_AFTER_SECONDS, sandboxArgv, throwawayId } from './build-sandbox.js';
import { checkRelease } from './check-release.js';


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
  /**
   * The manifest's `build` commands, run in order with `sh -c` in a copy of
   * the exported tree, each in a sandbox of its own (see sandboxArgv); they
   * need the gateway to run as root.
   */
  commands: string[];
  /** Environment of the build commands, added to a minimal PATH/HOME. */
  env?: Record<string, string>;
  /** Each line the build prints. */
  log?: (line: string) => void;
  /** Network, time limit per command and release size cap (gateway.yml's `builds:`); defaults as there. */
  settings?: Partial<BuildSettings>;
  /** The instance's `shared:` paths, of every cluster the release goes to: none may cross a link in the release. */
  shared?: string[];
  /** Directories build commands see empty (the gateway's state and config directories). */
  hidden?: string[];
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
export async function exportTree(repo: string, commit: string, dest: string, checkout: string, env?: Readonly<Record<string, string>>): Promise<void> {
  const [from, to, kept] = [resolve(repo), resolve(dest), resolve(checkout)];
  await mkdir(kept, { recursive: true });
  await mkdir(to, { recursive: true });
  await step('export', () => run('flock', [`${kept}.lock`, 'sh', '-c', EXPORT_SCRIPT, 'export', from, commit, kept, to], env ? { env } : {}));
}

/**
 * Builds a release from an exported tree: runs
 * `composer install` when there is a composer.json and no build command
 * runs composer itself, then the manifest's build commands, checks the
 * result (checkRelease: links, special files, shared paths, size), syncs it
 * into the workspace's `release/` and writes a REVISION file there, by
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
  const settings = { ...DEFAULT_BUILDS, ...options.settings };
  const rules = { shared: options.shared ?? [], maxSize: settings.maxReleaseSize };
  const commands = [...options.commands];
  if (existsSync(join(options.tree, 'composer.json')) && !commands.some((c) => /\bcomposer\b/.test(c))) {
    commands.unshift('composer install --no-dev --optimize-autoloader --no-interaction --no-progress');
  }
  if (commands.length === 0) {
    // Nothing to run: the tree is the release, with a REVISION file.
    await checkRelease(options.tree, rules);
    await step('stage', () => run('rsync', ['-rlpc', '--delete', '--exclude=/REVISION', `${options.tree}/`, `${release}/`]));
    await writeRevision(release, options.commit);
    return { dir: release, commands };
  }
  if (process.getuid?.() !== 0) {
    throw new MagratheaError(
      `builds need the gateway to run as root: each build command runs in namespaces of its own under a throwaway uid, which only root can set up; this gateway runs as uid ${process.getuid?.()}, so ${commands.map((c) => JSON.stringify(c)).join(', ')} did not run (without build commands and composer.json, a release needs no build)`,
      'build-needs-root',
      1,
      false,
    );
  }

  // The build runs in a copy, owned by a uid of its own: its commands may write anywhere in the tree, and nowhere else of the gateway's.
  const id = throwawayId();
  const fresh = join(scratch, 'tree');
  const home = join(scratch, 'home');
  await mkdir(fresh);
  await mkdir(home);
  await chmod(scratch, 0o711);
  await step('export', () => run('cp', ['-a', `${options.tree}/.`, fresh]));
  await run('chown', ['-R', `${id}:${id}`, fresh, home]);
  // Builds of other apps run at the same time, under other uids: this one's files are its own.
  await chmod(fresh, 0o700);
  await chmod(home, 0o700);
  const hidden = (options.hidden ?? []).filter((dir) => existsSync(dir));
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, COMPOSER_HOME: join(home, 'composer'), LANG: 'C.UTF-8', ...options.env };
  for (const command of commands) {
    log(`$ ${command}`);
    const [file, args] = sandboxArgv(command, id, settings, hidden);
    const started = Date.now();
    // The gateway's own limit only backs up timeout's, which names the outcome.
    const result = await run(file, args, { cwd: fresh, env, extendEnv: false, timeout: (settings.stepTimeoutSeconds + KILL_AFTER_SECONDS + 30) * 1000, reject: false, onLine: (line) => log(line) });
    const timedOut = result.exitCode === 124 || (result.exitCode === 137 && Date.now() - started >= settings.stepTimeoutSeconds * 1000);
    if (timedOut) {
      throw new MagratheaError(`build: ${command} timed out after ${formatSeconds(settings.stepTimeoutSeconds)} (builds.step_timeout): it and every process it started were killed`, 'build-timed-out', 1, false);
    }
    if (result.exitCode !== 0) throw stepFailed(`build: ${command}`, new CommandError(result.command, result.exitCode, result.stdout, result.stderr));
  }

  // Every process of the build has ended with its namespace: the tree holds still while it is checked and copied.
  // Its root's mode (0700 for the build, or whatever the build made it) would become release/'s: the walk sees only what is inside.
  await chmod(fresh, 0o755);
  await checkRelease(fresh, rules);
  // --checksum without --times: unchanged content keeps release/'s old mtime. REVISION is never taken from the tree.
  await step('stage', () => run('rsync', ['-rlpc', '--delete', '--exclude=/REVISION', `${fresh}/`, `${release}/`]));
  await writeRevision(release, options.commit);
  return { dir: release, commands };
}

/**
 * REVISION, written in the gateway's own `release/` (never in a tree a build
 * wrote): whatever is at that name is removed, and the file is created
 * anew, failing rather than following a link put there meanwhile.
 */
async function writeRevision(release: string, commit: string): Promise<void> {
  const path = join(release, 'REVISION');
  await rm(path, { recursive: true, force: true });
  await writeFile(path, `${commit}\n`, { flag: 'wx', mode: 0o644 });
}

function formatSeconds(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}

/** Names the build step in the error, keeping the command's own exit code and stderr tail. */
async function step<T>(name: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (e) {
    throw e instanceof CommandError ? stepFailed(name, e) : e;
  }
}

function stepFailed(name: string, e: CommandError): MagratheaError {
  const killed = e.exitCode === 127 && /timed out|ENOENT/.test(e.stderr) ? ` (${/timed out/.test(e.stderr) ? 'timed out' : 'not found'})` : limitHit(e);
  // A failing build is the app's to fix: retrying the job cannot help.
  return new MagratheaError(`${name} failed with exit code ${e.exitCode}${killed}: ${e.message.replace(/^[\s\S]*? exited with \d+: ?/, '')}`, 'build-failed', 1, false, { cause: e });
}

/** Which of the sandbox's limits (see sandboxArgv) a failed step most likely ran into, from its status and words; '' when none. */
function limitHit(e: CommandError): string {
  const said = `${e.stdout}\n${e.stderr}`;
  if (e.exitCode === 153 || /File size limit exceeded/.test(said)) return ' (a file reached builds.max_release_size, the largest a build may write)';
  if (/Cannot fork|fork: retry|Resource temporarily unavailable/.test(said)) return ' (it ran into builds.max_processes, the processes a build may run at once)';
  if (/Cannot allocate memory|Out of memory|std::bad_alloc/.test(said)) return ' (it may have run into builds.max_memory, the memory each build process may take)';
  return '';
}
