import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from '../adapters/exec.js';
import { checkName } from '../core/values.js';
import type { Command, CommandIO } from '../dispatch/command.js';
import { EXIT_UNKNOWN_COMMAND } from '../dispatch/dispatch.js';

/**
 * The command line on a laptop or in a CI job: once `magrathea login URL`
 * has kept a gateway's URL and a token, every command the HTTP API runs is
 * sent there (POST /v1/run) and its output printed as it comes, with the
 * same exit status; the app is found from the repository's git remote.
 * Commands that work on local files (validate, render, explain) still run
 * here, and those that only make sense on the gateway say so.
 */

/** What `login` keeps: the gateway's URL and the token, in a file only its user reads. */
export interface Login {
  url: string;
  token: string;
}

/** `$XDG_CONFIG_HOME/magrathea/login.json` (default `~/.config/...`). */
export function loginFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = env.XDG_CONFIG_HOME || (env.HOME ? join(env.HOME, '.config') : undefined);
  return base ? join(base, 'magrathea', 'login.json') : undefined;
}

/** The kept login, or undefined when there is none. A file others may read is refused, as ssh refuses such a key. */
export async function readLogin(file = loginFile()): Promise<Login | undefined> {
  if (!file) return undefined;
  const stats = await stat(file).catch(() => undefined);
  if (!stats) return undefined;
  if ((stats.mode & 0o077) !== 0) throw new Error(`${file} may be read by others (mode ${(stats.mode & 0o777).toString(8)}): chmod 600 it, or log in again`);
  const login = JSON.parse(await readFile(file, 'utf8')) as Partial<Login>;
  if (typeof login.url !== 'string' || typeof login.token !== 'string') throw new Error(`${file}: not a login of magrathea's: log in again`);
  return { url: login.url, token: login.token };
}

/** Keeps the login: a new file (mode 600, in a directory of mode 700) renamed over the old one. */
export async function writeLogin(login: Login, file = loginFile()): Promise<string> {
  if (!file) throw new Error('neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the login');
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await chmod(dirname(file), 0o700);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(login)}\n`, { mode: 0o600 });
  await rename(temporary, file);
  return file;
}

export async function removeLogin(file = loginFile()): Promise<boolean> {
  if (!file || !(await stat(file).catch(() => undefined))) return false;
  await rm(file);
  return true;
}

/** `https://host[:port]` with no path, query or credentials: where the API's /v1 and the repositories are. */
export function checkGatewayUrl(text: string): string | { error: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { error: `${JSON.stringify(text)} is not a URL (https://magrathea.example.com)` };
  }
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  // Every request carries the token: plain http only to this machine.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) return { error: `${text}: the gateway is reached over https (or http on this machine)` };
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) return { error: `${text}: give the gateway's address only (https://magrathea.example.com), no path or credentials` };
  return url.origin;
}

/** What one call to the API answered: a status and, for /v1/run, its lines. */
async function post(login: Login, path: string, body: unknown): Promise<Response> {
  return fetch(`${login.url}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${login.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

/** The exit status of an answer refused before the command ran, as the command line has them (2 usage, 3 unknown command, else 1). */
function refusedStatus(status: number, error: string): number {
  if (status === 400) return 2;
  if (status === 404 && /unknown command/.test(error)) return EXIT_UNKNOWN_COMMAND;
  return 1;
}

/**
 * Runs argv on the gateway through POST /v1/run: stdout and stderr lines
 * as they come, then the command's exit status. A refusal before the run
 * (a 401, 403, 429) is one line on stderr.
 */
export async function runRemote(login: Login, argv: readonly string[], io: CommandIO): Promise<number> {
  let response: Response;
  try {
    response = await post(login, '/v1/run', { argv });
  } catch (e) {
    io.stderr.write(`magrathea: cannot reach the gateway at ${login.url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}\n`);
    return 1;
  }
  if (response.status !== 200 || !response.body) {
    const text = await response.text();
    let error = text.trim();
    try {
      error = (JSON.parse(text) as { error: string }).error;
    } catch {
      // not JSON: shown as it is
    }
    io.stderr.write(`${response.status === 401 ? `magrathea: ${login.url}: ${error} (magrathea login ${login.url})` : error}\n`);
    return refusedStatus(response.status, error);
  }
  let exit = 1;
  let pending = '';
  const decoder = new TextDecoder();
  const handle = (line: string) => {
    if (!line) return;
    const event = JSON.parse(line) as { stdout?: string; stderr?: string; exit?: number };
    if (event.stdout !== undefined) io.stdout.write(`${event.stdout}\n`);
    if (event.stderr !== undefined) io.stderr.write(`${event.stderr}\n`);
    if (event.exit !== undefined) exit = event.exit;
  };
  for await (const chunk of response.body) {
    pending += decoder.decode(chunk as Uint8Array, { stream: true });
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      handle(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  handle(pending);
  return exit;
}

/**
 * The app of the repository at `cwd`: the name of the repository its
 * `magrathea` remote points at (`magrathea:shop`, `ssh://git@host/shop.git`,
 * `https://host/shop.git`), or else of any remote on the gateway's host.
 */
export async function appFromRemote(cwd: string, gatewayUrl: string): Promise<string | undefined> {
  const listed = await run('git', ['-C', cwd, 'remote', '-v'], { reject: false });
  if (listed.exitCode !== 0) return undefined;
  const remotes = listed.stdout.split('\n').map((l) => l.split(/\s+/)).filter((p) => p.length >= 2) as [string, string][];
  const host = new URL(gatewayUrl).hostname;
  const named = remotes.find(([name]) => name === 'magrathea') ?? remotes.find(([, url]) => url.includes(host));
  const app = named ? /([^/:]+?)(\.git)?\/?$/.exec(named[1])?.[1] : undefined;
  return app !== undefined && checkName(app) === undefined ? app : undefined;
}

/**
 * argv with the app put in where the command takes one and none is named:
 * `-a APP` / `--app APP` (taken out), or else the repository's. A first
 * argument `@cluster` becomes `APP@cluster`; one that is already the app
 * (or `APP@cluster`) is left as it is.
 */
export function withApp(command: Pick<Command, 'app' | 'name'>, argv: readonly string[], remoteApp: string | undefined): string[] {
  const args = [...argv];
  let app = remoteApp;
  const flag = args.findIndex((a) => a === '-a' || a === '--app');
  if (flag > 0 && args[flag + 1] !== undefined) {
    app = args[flag + 1];
    args.splice(flag, 2);
  }
  if (!command.app || app === undefined) return args;
  // After the command's name: one word, or two for a verb of a group (`db:backups capture`).
  const at = command.name.split(' ').length;
  const first = args[at];
  if (first !== undefined && (first === app || first.startsWith(`${app}@`))) return args;
  if (first !== undefined && first.startsWith('@')) return [...args.slice(0, at), `${app}${first}`, ...args.slice(at + 1)];
  return [...args.slice(0, at), app, ...args.slice(at)];
}
