/**
 * npm run bench:gateway — 20 different apps pushed at once through the SSH
 * gateway (`magrathea serve` with its worker) to a lab of 1 cluster x 2 web
 * hosts: do all land and get served? The gateway's peak memory (VmHWM of
 * the serve process, which runs the pushes' hooks too), and the round trip
 * of `ssh magrathea apps:list` against a plain `ssh <lab host> true`
 * measured in the same run. Then the HTTP API: requests per second of
 * `GET /v1/apps` from 8 clients at once for 5 s, its round trip against
 * the SSH one, and a one-file push over HTTP against the same over SSH.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run } from '../src/adapters/exec.js';
import { labDown } from '../src/lab/down.js';
import { labUp } from '../src/lab/up.js';
import { exampleRepo, peakKiB, pushRepo, startBenchGateway, type BenchGateway } from './gateway/serve.js';

const APPS = 20;
const ROUND_TRIPS = 20;
/** Clients at once, and for how long, for the API's requests per second. */
const API_CLIENTS = 8;
const API_SECONDS = 5;
/** One-file pushes of one app over each transport, alternating. */
const PUSH_ROUNDS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const work = await mkdtemp(join(tmpdir(), 'magrathea-bench-gateway-'));
const labDir = join(work, 'lab');
let stopGateway: (() => Promise<void>) | undefined;
try {
  const { status } = await labUp({ dir: labDir, shape: { clusters: 1, webHosts: 2, subnet: 197 } });
  const gateway: BenchGateway = await startBenchGateway(status, work, (stop) => (stopGateway = stop), { http: true });
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

  const token = (JSON.parse((await gatewaySsh('tokens:create', '--json')).stdout) as { token: string }).token;
  const apps = () => fetch(`${gateway.api!}/v1/apps`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.text().then(() => r.status));
  const apiTrips: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t = performance.now();
    await apps();
    apiTrips.push(performance.now() - t);
  }
  let answered = 0;
  let failed = 0;
  const until = performance.now() + API_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: API_CLIENTS }, async () => {
      while (performance.now() < until) {
        if ((await apps()) === 200) answered++;
        else failed++;
      }
    }),
  );

  // The same app, a one-file change pushed over SSH then over HTTP, in turn.
  const repo = repos[0]!;
  const overHttp = `${gateway.api!.replace('http://', `http://bench:${token}@`)}/${names[0]}.git`;
  const pushTimes: Record<'ssh' | 'http', number[]> = { ssh: [], http: [] };
  const pushFailures: string[] = [];
  for (let i = 0; i < PUSH_ROUNDS * 2; i++) {
    const via = i % 2 === 0 ? 'ssh' : 'http';
    await writeFile(join(repo, 'public/round.php'), `<?php echo ${i};`);
    await run('git', ['-C', repo, 'add', '-A']);
    await run('git', ['-C', repo, '-c', 'user.name=b', '-c', 'user.email=b@example.com', 'commit', '-q', '-m', `round ${i}`]);
    const t = performance.now();
    const pushed = via === 'ssh' ? await pushRepo(gateway, repo, 600_000) : await run('git', ['-C', repo, '-c', 'credential.helper=', 'push', overHttp, 'master'], { reject: false, timeout: 600_000, env: { GIT_TERMINAL_PROMPT: '0' } });
    pushTimes[via].push((performance.now() - t) / 1000);
    if (pushed.exitCode !== 0) pushFailures.push(`${via}: ${pushed.stderr.split('\n').slice(-3).join(' | ')}`);
  }

  console.log(`gateway: ${APPS} apps pushed at once to 1 cluster x 2 web hosts`);
  console.log(`  pushes accepted          ${accepted} / ${APPS} in ${pushSeconds.toFixed(1)} s (deploys take turns per cluster: its VCL and HAProxy map hold every app)`);
  console.log(`  apps served by the edge  ${served} / ${APPS}`);
  console.log(`  gateway peak memory      ${(peak / 1024).toFixed(0)} MiB (VmHWM of magrathea serve: its worker and the pushes' hooks run in it)`);
  console.log(`  ssh magrathea apps:list  median ${median(gatewayTrips).toFixed(0)} ms over ${ROUND_TRIPS}`);
  console.log(`  ssh <lab host> true      median ${median(sshdTrips).toFixed(0)} ms (OpenSSH's sshd, same client)  ratio ${(median(gatewayTrips) / median(sshdTrips)).toFixed(2)} x`);
  console.log(`  GET /v1/apps             median ${median(apiTrips).toFixed(0)} ms over ${ROUND_TRIPS}  ratio to ssh apps:list ${(median(apiTrips) / median(gatewayTrips)).toFixed(2)} x`);
  console.log(`  GET /v1/apps, ${API_CLIENTS} clients  ${(answered / API_SECONDS).toFixed(0)} requests/s over ${API_SECONDS} s (${failed} not 200)`);
  console.log(`  1-file push over HTTP    median ${median(pushTimes.http).toFixed(2)} s  over SSH ${median(pushTimes.ssh).toFixed(2)} s  ratio ${(median(pushTimes.http) / median(pushTimes.ssh)).toFixed(2)} x (${PUSH_ROUNDS} each, in turn)`);
  for (const failure of pushFailures) console.log(`  push failed: ${failure}`);
  if (failed > 0 || pushFailures.length > 0) process.exitCode = 1;
  if (accepted !== APPS || served !== APPS) {
    for (const [i, p] of pushes.entries()) if (p.exitCode !== 0) console.log(`  ${names[i]}: ${p.stderr.split('\n').filter((l) => l.startsWith('remote:')).slice(-3).join(' | ')}`);
    process.exitCode = 1;
  }
} finally {
  await stopGateway?.();
  await labDown({ dir: labDir, purge: true }).catch((e: Error) => console.log(`lab down: ${e.message}`));
  await rm(work, { recursive: true, force: true });
}
