import { join, resolve } from 'node:path';
import { cp, readFile } from 'node:fs/promises';
import { run, start, type RunResult } from '../../src/adapters/exec.js';
import type { LabStatus } from '../../src/lab/status.js';
import { waitFor } from './wait.js';

/** The built CLI, as the tests run it. */
export const CLI = resolve('dist/src/cli/main.js');

/** A `magrathea serve` a suite started; stop() it in afterAll, failed or not. */
export interface TestGateway {
  pid: number;
  /** What it printed so far, stdout and stderr together. */
  log(): string;
  /** The HTTP API's URL, when it listens on one. */
  api?: string;
  /** SIGTERM by PID, then waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `magrathea serve ARGS...` from the built CLI and waits until it
 * says it listens; a gateway that does not within `timeoutMs` is stopped
 * and the error carries what it printed.
 */
export async function startGateway(args: readonly string[], options: { timeoutMs?: number; openFiles?: number } = {}): Promise<TestGateway> {
  const argv = ['node', CLI, 'serve', ...args];
  // A soft open-file limit raised (as far as the hard one allows), for tests that hold many sockets.
  const child = options.openFiles
    ? start('sh', ['-c', `ulimit -S -n ${options.openFiles} 2>/dev/null; exec "$@"`, 'sh', ...argv], { stdio: 'pipe' })
    : start(argv[0]!, argv.slice(1), { stdio: 'pipe' });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await child.catch(() => undefined);
  };
  await waitFor('the gateway to listen', async () => log.includes('listening'), options.timeoutMs ?? 30_000, async () => log).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  const http = /the HTTP API on (127\.0\.0\.1:\d+)/.exec(log)?.[1];
  return { pid: child.pid!, log: () => log, ...(http ? { api: `http://${http}` } : {}), stop };
}

/** The private key of the lab's admin user (the lab's users.yml names it admin). */
export const labAdminKey = (lab: LabStatus): string => lab.ssh.identity.replace(/id_ed25519$/, 'user_ed25519');

/**
 * The keys of a suite's gateway users: `keys.admin` is the lab's admin key,
 * each of `members` gets a new ed25519 key at work/<who>_key. Returns each
 * member's public key line, for the suite's users.yml.
 */
export async function makeUserKeys(lab: LabStatus, work: string, keys: Record<string, string>, members: readonly string[]): Promise<Record<string, string>> {
  keys.admin = labAdminKey(lab);
  const publicKeys: Record<string, string> = {};
  for (const who of members) {
    keys[who] = join(work, `${who}_key`);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', who, '-f', keys[who]!]);
    publicKeys[who] = (await readFile(`${keys[who]}.pub`, 'utf8')).trim();
  }
  return publicKeys;
}

/** How a suite talks to its gateway as its users: the real OpenSSH client and git. */
export interface GatewayClient {
  /** The ssh argv git and the tests use, as `who` (up to the destination). */
  sshCommand(who: string): string[];
  ssh(who: string, ...command: string[]): Promise<RunResult>;
  git(repo: string, who: string, ...args: string[]): Promise<RunResult>;
  /** examples/hello-php committed in a new repository `dir`, with the remote `magrathea` at app's repository. */
  newRepo(dir: string, app: string, who: string): Promise<string>;
}

/** `keys`: each user's private key file, filled in by the suite (the object is read at each call). */
export function gatewayClient(port: () => number, keys: Record<string, string>, knownHosts: () => string): GatewayClient {
  const sshCommand = (who: string): string[] =>
    ['ssh', '-p', String(port()), '-i', keys[who]!, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${knownHosts()}`];
  const git = (repo: string, who: string, ...args: string[]) =>
    run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { reject: false, timeout: 180_000, env: { GIT_SSH_COMMAND: sshCommand(who).join(' ') } });
  return {
    sshCommand,
    ssh: (who, ...command) => run('ssh', [...sshCommand(who).slice(1), 'git@127.0.0.1', ...command], { reject: false, timeout: 120_000 }),
    git,
    async newRepo(dir, app, who) {
      await cp('examples/hello-php', dir, { recursive: true });
      await run('git', ['init', '-q', '-b', 'master', dir]);
      await git(dir, who, 'add', '-A');
      await git(dir, who, 'commit', '-q', '-m', 'first');
      await git(dir, who, 'remote', 'add', 'magrathea', `ssh://git@127.0.0.1:${port()}/${app}.git`);
      return dir;
    },
  };
}
