/**
 * npm run bench:gateway — 20 different apps pushed at once through the SSH
 * gateway (`magrathea serve` with its worker) to a lab of 1 cluster x 2 web
 * hosts: do all land and get served? The gateway's peak memory (VmHWM of
 * the serve process; each push's hook is a process of its own, measured
 * apart), and the round trip of `ssh magrathea apps:list` against a plain
 * `ssh <lab host> true` measured in the same run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run } from '../src/adapters/exec.js';
import { labDown } from '../src/lab/down.js';
import { labUp } from '../src/lab/up.js';
import { exampleRepo, peakKiB, pushRepo, startBenchGateway, type BenchGateway } from './gateway/serve.js';

const APPS = 20;
const ROUND_TRIPS = 20;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const work = await mkdtemp(join(tmpdir(), 'magrathea-bench-gateway-'));
const labDir = join(work, 'lab');
let stopGateway: (() => Promise<void>) | undefined;
try {
  const { status } = await labUp({ dir: labDir, shape: { clusters: 1, webHosts: 2, subnet: 197 } });
  const gateway: BenchGateway = await startBenchGateway(status, work, (stop) => (stopGateway = stop));
  const gatewaySsh = gateway.command;

  const names = Array.from({ length: APPS }, (_, i) => `bench-${String(i + 1).padStart(2, '0')}`);
  const repos: string[] = [];
  // One cluster in this lab: the example's second cluster and its staging are left out.
  for (const name of names) repos.push(await exampleRepo(gateway, work, name, ['cluster-a']));

  const began = performance.now();
  const pushes = await Promise.all(repos.map((repo) => pushRepo(gateway, repo, 600_000)));
  const pushSeconds = (performance.now() - began) / 1000;
  const accepted = pushes.filter((p) => p.exitCode === 0).length;
  const edge = status.edges[0]!.url;
  let served = 0;
  for (const name of names) {
    const page = await run('curl', ['-s', '-m', '10', '-H', `Host: ${name}.example.com`, `${edge}/`], { reject: false });
    if (page.stdout.startsWith('Hello from cluster-a')) served++;
  }
  const peak = await peakKiB(gateway.pid);

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
  await stopGateway?.();
  await labDown({ dir: labDir, purge: true }).catch((e: Error) => console.log(`lab down: ${e.message}`));
  await rm(work, { recursive: true, force: true });
}
