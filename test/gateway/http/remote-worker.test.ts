import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, start } from '../../../src/adapters/exec.js';
import { labDown } from '../../../src/lab/down.js';
import type { LabStatus } from '../../../src/lab/status.js';
import { curl } from '../../helpers/curl.js';
import { freePort } from '../../helpers/free-port.js';
import { labAdminKey } from '../../helpers/gateway.js';
import { useOwnLab } from '../../helpers/lab.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * A worker that does not share the gateway's disk: `magrathea worker` in a
 * mount namespace where the gateway's exports and checkouts are hidden
 * (empty tmpfs over them), as on another machine. A push is deployed by it:
 * it fetches the release's source from the gateway's HTTP API with the key
 * the job carries.
 */
const CLI = resolve('dist/src/cli/main.js');
let lab: LabStatus;
let work: string;
let config: string;
let state: string;
let sshPort: number;
let httpPort: number;
const children: ReturnType<typeof start>[] = [];
let serverLog = '';
let workerLog = '';

function sshCommand(): string[] {
  return ['ssh', '-p', String(sshPort), '-i', labAdminKey(lab), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${join(work, 'known_hosts')}`];
}

beforeAll(async () => {
  lab = await useOwnLab('remote', { clusters: 2, webHosts: 1 }, [141, 143, 145, 147, 149, 151, 153, 155]);
  work = await mkdtemp(join(tmpdir(), 'magrathea-remote-worker-'));
  config = join(work, 'config');
  await cp(lab.config, config, { recursive: true });
  state = /^state_dir: (.+)$/m.exec(await readFile(join(config, 'gateway.yml'), 'utf8'))![1]!;
  [sshPort, httpPort] = [await freePort(), await freePort()];
  await writeFile(join(config, 'gateway.yml'), `${await readFile(join(config, 'gateway.yml'), 'utf8')}http_url: http://127.0.0.1:${httpPort}\n`);

  // The gateway without a worker of its own.
  const server = start('node', [CLI, 'serve', '--no-worker', '--no-accounting', '--config', config, '--listen', `127.0.0.1:${sshPort}`, '--http', `127.0.0.1:${httpPort}`]);
  children.push(server);
  server.stdout!.on('data', (d: Buffer) => (serverLog += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (serverLog += d.toString()));
  await waitFor('the gateway', async () => serverLog.includes('listening'), 20_000);

  // The worker: the gateway's exports and checkouts are not on its disk. Its PID is node's (unshare and sh exec).
  const hide = 'mkdir -p "$1" "$2" && mount -t tmpfs tmpfs "$1" && mount -t tmpfs tmpfs "$2" && shift 2 && exec "$@"';
  const worker = start('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', hide, 'hide', join(state, 'sources'), join(state, 'checkouts'), process.execPath, CLI, 'worker', '--no-accounting', '--config', config]);
  children.push(worker);
  worker.stdout!.on('data', (d: Buffer) => (workerLog += d.toString()));
  worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
  await waitFor('the worker', async () => workerLog.includes('worker ready'), 20_000);
}, 120_000);

// Stopped by PID, failed or not: the worker, the gateway, then the lab.
afterAll(async () => {
  for (const child of children.reverse()) {
    child.kill('SIGTERM');
    await child.catch(() => undefined);
  }
  if (lab) await labDown({ dir: lab.dir, purge: true });
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe('a worker on another machine', () => {
  it('deploys a push with the source it fetched from the gateway', async () => {
    const ssh = sshCommand();
    expect((await run(ssh[0]!, [...ssh.slice(1), 'git@127.0.0.1', 'apps:create', 'hello'], { reject: false })).exitCode).toBe(0);
    const repo = join(work, 'hello');
    await cp('examples/hello-php', repo, { recursive: true });
    const git = (...args: string[]) => run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { reject: false, timeout: 180_000, env: { GIT_SSH_COMMAND: ssh.join(' ') } });
    await run('git', ['init', '-q', '-b', 'master', repo]);
    await git('add', '-A');
    await git('commit', '-q', '-m', 'first');
    const push = await git('push', `ssh://git@127.0.0.1:${sshPort}/hello.git`, 'master');
    expect(push.stderr).toMatch(/remote: fetched the source from the gateway in [\d.]+ s/);
    expect(push.stderr).toMatch(/remote: cluster-a\s+live\s+r1/);
    expect(push.stderr).toMatch(/remote: cluster-b\s+live\s+r1/);
    expect(push.exitCode).toBe(0);
    expect((await curl(lab.edges.find((e) => e.cluster === 'cluster-a')!.url, 'hello.example.com')).body).toMatch(/^Hello from cluster-a/);
    expect((await curl(lab.edges.find((e) => e.cluster === 'cluster-b')!.url, 'hello.example.net')).body).toMatch(/^Hallo from cluster-b/);
    expect(workerLog).not.toMatch(/error/i);
  }, 240_000);

  it('gives a source only for its key', async () => {
    const name = `${'a'.repeat(40)}-1-2-3`;
    const wrong = await fetch(`http://127.0.0.1:${httpPort}/v1/sources/hello/${name}`, { headers: { 'X-Magrathea-Source-Key': 'b'.repeat(64) } });
    expect(wrong.status).toBe(403);
    expect((await fetch(`http://127.0.0.1:${httpPort}/v1/sources/hello/${name}`)).status).toBe(403);
    expect((await fetch(`http://127.0.0.1:${httpPort}/v1/sources/hello/..%2F..%2Fetc`, { headers: { 'X-Magrathea-Source-Key': 'b'.repeat(64) } })).status).toBe(403);
  });
});
