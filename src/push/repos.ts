import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../adapters/exec.js';
import { shellQuote } from '../adapters/ssh.js';
import { MagratheaError } from '../core/errors.js';
import { checkName } from '../core/values.js';
import { builderPaths } from '../builder/build-release.js';

/** What the hooks run: `magrathea hook pre-receive`, through an entry point that loads only the hooks. */
const HOOK = fileURLToPath(new URL('../cli/hook.js', import.meta.url));

/** The bare repository of an app, in the gateway's state directory. */
export function repoDir(stateDir: string, app: string): string {
  const problem = checkName(app);
  if (problem) throw new MagratheaError(`app name: ${problem}`, 'invalid-app-name', 2);
  return join(stateDir, 'repos', `${app}.git`);
}

export function appExists(stateDir: string, app: string): boolean {
  return existsSync(join(repoDir(stateDir, app), 'HEAD'));
}

export async function listApps(stateDir: string): Promise<string[]> {
  const names = await readdir(join(stateDir, 'repos')).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.git') && checkName(n.slice(0, -4)) === undefined).map((n) => n.slice(0, -4)).sort();
}

/**
 * Creates the app's bare repository with Magrathea's hooks: pre-receive
 * validates, deploys and rejects the push on failure (the branch does not
 * move); post-receive frees the push lock once the branch has moved. The
 * hooks run `magrathea hook` as compiled JavaScript with this same node, not a TypeScript
 * runtime: a push pays Node's start, not a compiler's.
 */
export async function createRepo(stateDir: string, app: string, configDir: string, settings: RepoSettings): Promise<string> {
  const dir = repoDir(stateDir, app);
  if (existsSync(join(dir, 'HEAD'))) throw new MagratheaError(`app ${app} already exists`, 'app-exists');
  await mkdir(dir, { recursive: true });
  await run('git', ['init', '-q', '--bare', '-b', 'master', dir]);
  await configureRepo(dir, configDir, settings);
  return dir;
}

export interface RepoSettings {
  /** Bytes one push may send (gateway.yml's builds.max_push_size). */
  maxPushSize: number;
}

/**
 * What the gateway sets in every app repository: push options, the push
 * size cap (git refuses a bigger pack while receiving it, before any hook
 * runs or anything is stored), the hooks. Run at creation and at each start
 * of the gateway, so that existing repositories follow gateway.yml.
 */
export async function configureRepo(dir: string, configDir: string, settings: RepoSettings): Promise<void> {
  await run('git', ['-C', dir, 'config', 'receive.advertisePushOptions', 'true']);
  await run('git', ['-C', dir, 'config', 'receive.maxInputSize', String(settings.maxPushSize)]);
  await installHooks(dir, configDir);
}

export async function installHooks(dir: string, configDir: string): Promise<void> {
  for (const hook of ['pre-receive', 'post-receive']) {
    const script = [
      '#!/bin/sh',
      '# Managed by Magrathea: a push is validated and deployed before its branch moves.',
      `MAGRATHEA_CONFIG=${shellQuote([configDir])} exec ${shellQuote([process.execPath, HOOK, hook])}`,
      '',
    ].join('\n');
    const path = join(dir, 'hooks', hook);
    await writeFile(path, script);
    await chmod(path, 0o755);
  }
}

/** The app's repository, and what its builds keep on the gateway. */
export async function destroyRepo(stateDir: string, app: string): Promise<void> {
  await rm(repoDir(stateDir, app), { recursive: true, force: true });
  for (const path of builderPaths(stateDir, app)) await rm(path, { recursive: true, force: true });
}
