/**
 * npm run bench:gateway — 20 different apps pushed at once through the SSH
 * gateway (`magrathea serve` with its worker) to a lab of 1 cluster x 2 web
 * hosts: do all land and get served? The gateway's peak memory (VmHWM of
 * the serve process; each push's hook is a process of its own, measured
 * apart), and the round trip of `ssh magrathea apps:list` against a plain
 * `ssh <lab host> true` measured in the same run.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run, start } from '../src/adapters/exec.js';
import { labDown } from '../src/lab/down.js';
import { labUp } from '../src/lab/up.js';

const APPS = 20;
const ROUND_TRIPS = 20;
const CLI = resolve('dist/src/cli/main.js');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const freePort = () =>
  new Promise<number>((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => done(port));
    });
  });

async function peakKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

const work = await mkdtemp(join(tmpdir(), 'magrathea-bench-gateway-'));
const labDir = join(work, 'lab');
let server: ReturnType<typeof start> | undefined;
try {
  const { status } = await labUp({ dir: labDir, shape: { clusters: 1, webHosts: 2, subnet: 197 } });
  const port = await freePort();
  server = start('node', [CLI, 'serve', '--config', status.config, '--listen', `127.0.0.1:${port}`, '--no-http'], { stdio: 'pipe' });
  let log = '';
  server.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 100 && !log.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
  if (!log.includes('listening')) throw new Error(`magrathea serve did not start: ${log}`);

  const key = status.ssh.identity.replace(/id_ed25519$/, 'user_ed25519');
  const ssh = ['ssh', '-p', String(port), '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${join(work, 'known_hosts')}`];
  const gatewaySsh = (...args: string[]) => run(ssh[0]!, [...ssh.slice(1), 'git@127.0.0.1', ...args]);

  const names = Array.from({ length: APPS }, (_, i) => `bench-${String(i + 1).padStart(2, '0')}`);
  const repos: string[] = [];
  for (const name of names) {
    await gatewaySsh('apps:create', name);
    const repo = join(work, name);
    await cp('examples/hello-php', repo, { recursive: true });
    // One cluster in this lab: the example's second cluster and its staging are left out.
    const manifest = (await readFile(join(repo, 'magrathea.yml'), 'utf8')).split('\nenvironments:')[0]!;
    await writeFile(join(repo, 'magrathea.yml'), `${manifest}\nenvironments:\n  production: { branch: master, clusters: [cluster-a] }\n`);
    await run('git', ['init', '-q', '-b', 'master', repo]);
    await run('git', ['-C', repo, 'add', '-A']);
    await run('git', ['-C', repo, '-c', 'user.name=b', '-c', 'user.email=b@example.com', 'commit', '-q', '-m', name]);
    await run('git', ['-C', repo, 'remote', 'add', 'magrathea', `ssh://git@127.0.0.1:${port}/${name}.git`]);
    repos.push(repo);
  }

  const began = performance.now();
  const pushes = await Promise.all(
    repos.map((repo) => run('git', ['-C', repo, 'push', 'magrathea', 'master'], { reject: false, timeout: 600_000, env: { GIT_SSH_COMMAND: ssh.join(' ') } })),
  );
  const pushSeconds = (performance.now() - began) / 1000;
  const accepted = pushes.filter((p) => p.exitCode === 0).length;
  const edge = status.edges[0]!.url;
  let served = 0;
  for (const name of names) {
    const page = await run('curl', ['-s', '-m', '10', '-H', `Host: ${name}.example.com`, `${edge}/`], { reject: false });
    if (page.stdout.startsWith('Hello from cluster-a')) served++;
  }
  const peak = await peakKiB(server.pid!);

  const gatewayTrips: number[] = [];
  const sshdTrips: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    let t = performance.now();
    await gatewaySsh('apps:list');
    gatewayTrips.push(performance.now() - t);
    t = performance.now();
    await run('ssh', ['-F', status.ssh.config, 'a-web-1', 'true']);
    sshdTrips.push(performance.now() - t);
  }

  console.log(`gateway: ${APPS} apps pushed at once to 1 cluster x 2 web hosts`);
  console.log(`  pushes accepted          ${accepted} / ${APPS} in ${pushSeconds.toFixed(1)} s (deploys take turns per cluster: its VCL and HAProxy map hold every app)`);
  console.log(`  apps served by the edge  ${served} / ${APPS}`);
  console.log(`  gateway peak memory      ${(peak / 1024).toFixed(0)} MiB (VmHWM of magrathea serve and its worker; each push's hook runs in a process of its own)`);
  console.log(`  ssh magrathea apps:list  median ${median(gatewayTrips).toFixed(0)} ms over ${ROUND_TRIPS}`);
  console.log(`  ssh <lab host> true      median ${median(sshdTrips).toFixed(0)} ms (OpenSSH's sshd, same client)  ratio ${(median(gatewayTrips) / median(sshdTrips)).toFixed(2)} x`);
  if (accepted !== APPS || served !== APPS) {
    for (const [i, p] of pushes.entries()) if (p.exitCode !== 0) console.log(`  ${names[i]}: ${p.stderr.split('\n').filter((l) => l.startsWith('remote:')).slice(-3).join(' | ')}`);
    process.exitCode = 1;
  }
} finally {
  if (server) {
    server.kill('SIGTERM');
    await server.catch(() => undefined);
  }
  await labDown({ dir: labDir, purge: true }).catch((e: Error) => console.log(`lab down: ${e.message}`));
  await rm(work, { recursive: true, force: true });
}
