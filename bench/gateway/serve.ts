import { cp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { run, start, type RunResult } from '../../src/adapters/exec.js';
import type { LabStatus } from '../../src/lab/status.js';

const CLI = resolve('dist/src/cli/main.js');

/** `magrathea serve` on a lab's configuration, as the benches drive it: git pushes and commands over its SSH door. */
export interface BenchGateway {
  pid: number;
  port: number;
  /** The OpenSSH client command line that logs in to the gateway as the lab's user (GIT_SSH_COMMAND). */
  ssh: string[];
  /** `ssh magrathea ARGS...` */
  command(...args: string[]): Promise<RunResult>;
  /** The HTTP API's URL, when started with it. */
  api?: string;
  /** Stops the gateway by its pid (TERM, then KILL after 10 s). Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts `magrathea serve` on a free loopback port, without its HTTP API
 * unless `http` (then on another free port, without the per-token request
 * rate: a bench measures the gateway, not its limit); the caller registers
 * `stop` at once.
 */
export async function startBenchGateway(lab: LabStatus, work: string, onStop: (stop: () => Promise<void>) => void, options: { http?: boolean } = {}): Promise<BenchGateway> {
  const port = await freePort();
  let config = lab.config;
  let http = ['--no-http'];
  if (options.http) {
    config = join(work, 'gateway-config');
    await cp(lab.config, config, { recursive: true });
    await writeFile(join(config, 'gateway.yml'), `${await readFile(join(config, 'gateway.yml'), 'utf8')}limits:\n  http: { requests_per_minute: 1000000 }\n`);
    http = ['--http', `127.0.0.1:${await freePort()}`];
  }
  const server = start('node', [CLI, 'serve', '--config', config, '--listen', `127.0.0.1:${port}`, ...http], { stdio: 'pipe' });
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      server.kill('SIGTERM');
      const killer = setTimeout(() => server.kill('SIGKILL'), 10_000);
      await server.catch(() => undefined);
      clearTimeout(killer);
    })());
  onStop(stop);
  let log = '';
  server.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 300 && !log.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
  if (!log.includes('listening')) throw new Error(`magrathea serve did not start: ${log}`);
  const key = lab.ssh.identity.replace(/id_ed25519$/, 'user_ed25519');
  const ssh = ['ssh', '-p', String(port), '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${join(work, 'known_hosts')}`];
  const api = options.http ? `http://${http[1]!}` : undefined;
  return { pid: server.pid!, port, ssh, command: (...args) => run(ssh[0]!, [...ssh.slice(1), 'git@127.0.0.1', ...args]), stop, ...(api ? { api } : {}) };
}

/**
 * The example app as app `name`'s repository (committed, remote `magrathea`
 * at the gateway), deployed to `clusters` only (the example's staging and
 * other clusters left out), created on the gateway.
 */
export async function exampleRepo(gateway: BenchGateway, work: string, name: string, clusters: readonly string[]): Promise<string> {
  await gateway.command('apps:create', name);
  const repo = join(work, name);
  await cp('examples/hello-php', repo, { recursive: true });
  const manifest = (await readFile(join(repo, 'magrathea.yml'), 'utf8')).split('\nenvironments:')[0]!;
  await writeFile(join(repo, 'magrathea.yml'), `${manifest}\nenvironments:\n  production: { branch: master, clusters: [${clusters.join(', ')}] }\n`);
  await run('git', ['init', '-q', '-b', 'master', repo]);
  await run('git', ['-C', repo, 'add', '-A']);
  await run('git', ['-C', repo, '-c', 'user.name=b', '-c', 'user.email=b@example.com', 'commit', '-q', '-m', name]);
  await run('git', ['-C', repo, 'remote', 'add', 'magrathea', `ssh://git@127.0.0.1:${gateway.port}/${name}.git`]);
  return repo;
}

/** `git push magrathea master`: returns once the deploy ended (the push waits for it). */
export function pushRepo(gateway: BenchGateway, repo: string, timeoutMs: number): Promise<RunResult> {
  return run('git', ['-C', repo, 'push', 'magrathea', 'master'], { reject: false, timeout: timeoutMs, env: { GIT_SSH_COMMAND: gateway.ssh.join(' ') } });
}

/** The peak resident memory of a process (VmHWM), in KiB. */
export async function peakKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

export function freePort(): Promise<number> {
  return new Promise<number>((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => done(port));
    });
  });
}
