/**
 * npm run bench:scale [-- --apps N] — does a deploy cost the same on a
 * cluster of many apps as on a cluster of one? A lab of the bench's own with
 * two clusters of 2 web hosts and an edge: cluster-a holds N apps (default
 * 100), cluster-b one. On each, in the same run, alternately: the time to
 * deploy one more app, to redeploy one app with a 1-file change, and to
 * change one app's config (config vars set, then the redeploy that applies
 * them), as the worker deploys (deploy(), without the queue and the build);
 * each ratio (N apps / 1 app) against the goal. Then through the gateway
 * (`magrathea serve` and its worker, git push over its SSH door) on
 * cluster-b: one first deploy alone, then 20 different apps pushed at once
 * (time until all are live against the single one), and the gateway's peak
 * memory. Stops every process it started by PID, at the end or on failure,
 * and bounds itself in time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { run } from '../src/adapters/exec.js';
import { sshMasters } from '../src/adapters/ssh-masters.js';
import { loadGatewayConfig } from '../src/config/load.js';
import type { ClusterConfig } from '../src/core/config/types.js';
import type { ConfigVars, InstanceConfig } from '../src/core/manifest/types.js';
import { instanceIdent } from '../src/core/render/names.js';
import { deploy, formatDeployResult, hostSshSettings } from '../src/deployer/deploy.js';
import { redisDeployState } from '../src/deployer/redis-state.js';
import { readConfigVars, setConfigVars } from '../src/state/config-vars.js';
import { createKeys } from '../src/state/keys.js';
import { openRedis } from '../src/state/redis.js';
import type { LabStatus } from '../src/lab/status.js';
import { benchLabUp } from './deploy/lab.js';
import { median } from './deploy/report.js';
import { exampleRepo, peakKiB, pushRepo, startBenchGateway } from './gateway/serve.js';
import { runBench, type BenchCleanups, type BenchClock } from './harness.js';
import { scaleInstance, scaleManifest, stageInstances, writeScaleApp } from './scale/seed.js';

const { values: flags } = parseArgs({ options: { apps: { type: 'string', default: '100' }, rounds: { type: 'string', default: '2' } } });
const APPS = Number(flags.apps);
const ROUNDS = Number(flags.rounds);
if (!Number.isInteger(APPS) || APPS < 2 || APPS > 500) throw new Error(`bench:scale: --apps takes a whole number from 2 to 500, not ${flags.apps}`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 10) throw new Error(`bench:scale: --rounds takes a whole number from 1 to 10, not ${flags.rounds}`);
const PUSHES = 20;
const SEED_BATCH = 20;
const GOAL_RATIO = 1.2;
const GOAL_PUSHES = 3;
const GOAL_MIB = 150;
const BIG = 'cluster-a';
const SMALL = 'cluster-b';
/** No new round starts after this long; the rounds done are reported. */
const BUDGET_MS = 25 * 60_000;
/** Past this, the bench brings its lab down and exits, wherever it is. */
const HARD_LIMIT_MS = 45 * 60_000;
const PUSH_TIMEOUT_MS = 15 * 60_000;

await runBench({ budgetMs: BUDGET_MS, hardLimitMs: HARD_LIMIT_MS }, main);

async function main(cleanups: BenchCleanups, clock: BenchClock): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'magrathea-bench-scale-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  const lab = await benchLabUp(join(work, 'lab'), 2, (down) => cleanups.push(down), 2);
  const config = await loadGatewayConfig(lab.status.config);
  config.gateway.stateDir = join(work, 'state');
  const redis = await openRedis({ stateDir: config.gateway.stateDir, env: {} });
  cleanups.push(() => redis.stop());
  // The SSH masters its deploys keep between them (ssh.master_idle), stopped by pid.
  cleanups.push(() => sshMasters.close());
  const context = { redis: redis.client, keys: createKeys(`scalebench${process.pid}`) };
  const state = redisDeployState(context);
  const manifest = scaleManifest([BIG, SMALL]);
  console.log(`scale: a cluster of ${APPS} apps (${BIG}) against a cluster of 1 (${SMALL}), 2 web hosts and an edge each (lab up in ${lab.seconds.toFixed(1)} s; ${clock.machine})`);

  const releases = new Map<string, number>();
  // The last deploy's log lines, timed: where its time went.
  let trail: [number, string][] = [];
  const deployApp = async (app: string, cluster: string, source: string, vars?: ConfigVars): Promise<number> => {
    const n = (releases.get(`${app}@${cluster}`) ?? 0) + 1;
    releases.set(`${app}@${cluster}`, n);
    const t0 = performance.now();
    trail = [[t0, 'start']];
    const log = (line: string): void => void trail.push([performance.now(), line]);
    const result = await deploy({ app, env: 'production', release: `r${n}`, manifest, source, clusters: [cluster], ...(vars ? { vars } : {}) }, { config, state, log });
    trail.push([performance.now(), 'the end']);
    const seconds = (performance.now() - t0) / 1000;
    if (!result.ok) {
      console.log(await whyUnserved(lab.status, config.clusters[cluster]!, [scaleInstance(manifest, app, cluster)]));
      throw new Error(`deploy of ${app} to ${cluster} failed:\n${formatDeployResult(result)}`);
    }
    return seconds;
  };

  // The clusters: N-1 apps staged on the big one, then one real deploy that installs every instance's files; one app on the small one.
  const base = join(work, 'base');
  await writeScaleApp(base, 'seed');
  const t0 = performance.now();
  const seeds = Array.from({ length: APPS - 1 }, (_, i) => scaleInstance(manifest, `seed-${String(i + 1).padStart(3, '0')}`, BIG));
  // In batches, each closed by a real deploy that installs the files of the batch: hosts take a few dozen new vhosts and pools per reload, not a hundred.
  const closings: number[] = [];
  for (let i = 0; i < seeds.length; i += SEED_BATCH) {
    const batch = seeds.slice(i, i + SEED_BATCH);
    await stageInstances(config.clusters[BIG]!, batch.slice(0, -1), base, hostSshSettings(config), state);
    closings.push(await deployApp(batch.at(-1)!.app, BIG, base));
    console.log(`  ${BIG}: ${i + batch.length} / ${seeds.length} seed apps, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  await deployApp('subject', BIG, base);
  await deployApp('subject', SMALL, base);
  const { served, others, unserved } = await countServed(lab.status.edges.find((e) => e.cluster === BIG)!.url, [...seeds.map((s) => s.app), 'subject']);
  console.log(`  ${BIG}: ${APPS} apps in ${((performance.now() - t0) / 1000).toFixed(0)} s (staged, in batches of ${SEED_BATCH} each closed by a deploy: ${closings.map((s) => s.toFixed(0)).join(', ')} s); served through its edge: ${served} / ${APPS}`);
  if (served !== APPS) {
    console.log(await whyUnserved(lab.status, config.clusters[BIG]!, unserved.slice(0, 3).map((app) => seeds.find((s) => s.app === app) ?? scaleInstance(manifest, app, BIG))));
    throw new Error(`only ${served} of the ${APPS} apps of ${BIG} are served through its edge (the others answered ${others}): the figures would not be of a cluster of ${APPS} apps`);
  }

  // The measures, alternating clusters so that the machine's load falls on both alike.
  const times: Record<'more' | 'redeploy' | 'config', Record<string, number[]>> = { more: { [BIG]: [], [SMALL]: [] }, redeploy: { [BIG]: [], [SMALL]: [] }, config: { [BIG]: [], [SMALL]: [] } };
  const changed = join(work, 'changed');
  const failures: string[] = [];
  const where: Record<string, string> = {};
  // A measured deploy that fails is told and left out of the medians; the bench goes on with the others.
  const measure = async (kind: keyof typeof times, cluster: string, step: () => Promise<unknown>): Promise<void> => {
    const t = performance.now();
    try {
      await step();
      times[kind][cluster]!.push((performance.now() - t) / 1000);
      where[`${kind} on ${cluster}`] = slowest(trail);
    } catch (e) {
      failures.push(`${kind} on ${cluster}: ${(e as Error).message.split('\n').filter((l) => l.startsWith('error: ')).join(' ') || (e as Error).message}`);
      console.log(`  ${failures.at(-1)}`);
    }
  };
  for (let round = 1; round <= ROUNDS && !clock.overBudget() && !cleanups.stopping(); round++) {
    await writeScaleApp(changed, `round ${round}`);
    const order = round % 2 === 1 ? [BIG, SMALL] : [SMALL, BIG];
    for (const cluster of order) await measure('more', cluster, () => deployApp(`more-${round}`, cluster, base));
    for (const cluster of order) await measure('redeploy', cluster, () => deployApp('subject', cluster, changed));
    for (const cluster of order) {
      await measure('config', cluster, async () => {
        await setConfigVars(context, 'subject', 'production', cluster, { GREETING: `round ${round}` });
        const vars = await readConfigVars(context, 'subject', 'production', [cluster]);
        await deployApp('subject', cluster, changed, vars);
      });
    }
    console.log(`  round ${round}/${ROUNDS}: ${(['more', 'redeploy', 'config'] as const).map((k) => `${k} ${fmt(times[k][BIG]!.at(-1) ?? NaN)} / ${fmt(times[k][SMALL]!.at(-1) ?? NaN)}`).join(', ')}`);
  }

  // Through the gateway, on the small cluster: one first deploy alone, then 20 at once.
  const gateway = await startBenchGateway(lab.status, work, (stop) => cleanups.push(stop));
  const single = await exampleRepo(gateway, work, 'gw-single', [SMALL]);
  let t = performance.now();
  const alone = await pushRepo(gateway, single, PUSH_TIMEOUT_MS);
  const aloneSeconds = (performance.now() - t) / 1000;
  if (alone.exitCode !== 0) throw new Error(`the single push failed: ${pushTail(alone.stderr)}`);
  const repos: string[] = [];
  for (let i = 1; i <= PUSHES; i++) repos.push(await exampleRepo(gateway, work, `gw-${String(i).padStart(2, '0')}`, [SMALL]));
  t = performance.now();
  const pushes = await Promise.all(repos.map((repo) => pushRepo(gateway, repo, PUSH_TIMEOUT_MS)));
  const allSeconds = (performance.now() - t) / 1000;
  const peak = await peakKiB(gateway.pid);
  const accepted = pushes.filter((p) => p.exitCode === 0).length;

  const row = (label: string, big: number[], small: number[]): string => {
    const ratio = median(big) / median(small);
    return `  ${label.padEnd(34)} ${fmt(median(big)).padStart(8)}   ${fmt(median(small)).padStart(8)}   ${ratio.toFixed(2).padStart(5)} x   goal <= ${GOAL_RATIO}: ${ratio <= GOAL_RATIO ? 'met' : 'MISSED'}`;
  };
  console.log('');
  console.log(`medians of ${times.more[BIG]!.length} round(s), seconds    ${`${APPS} apps`.padStart(8)}   ${'1 app'.padStart(8)}   ratio`);
  console.log(row('deploy one more app', times.more[BIG]!, times.more[SMALL]!));
  console.log(row('redeploy one app, 1-file change', times.redeploy[BIG]!, times.redeploy[SMALL]!));
  console.log(row('config change (vars set + redeploy)', times.config[BIG]!, times.config[SMALL]!));
  const pushRatio = allSeconds / aloneSeconds;
  console.log(`  ${PUSHES} apps pushed at once, all live      ${fmt(allSeconds).padStart(8)}   single first deploy ${fmt(aloneSeconds)}   ${pushRatio.toFixed(2)} x   goal <= ${GOAL_PUSHES}: ${pushRatio <= GOAL_PUSHES && accepted === PUSHES ? 'met' : 'MISSED'} (${accepted} / ${PUSHES} accepted)`);
  console.log(`  gateway peak memory                ${(peak / 1024).toFixed(0).padStart(5)} MiB   goal <= ${GOAL_MIB} MiB: ${peak / 1024 <= GOAL_MIB ? 'met' : 'MISSED'} (VmHWM of magrathea serve and its worker; each push's hook is a process of its own)`);
  console.log(`  where the last round's deploys spent their time, the 3 longest waits for a log line:\n${Object.entries(where).map(([k, v]) => `    ${k}: ${v}`).join('\n')}`);
  console.log('  the deploys of the table are deploy() calls as the worker makes them (no queue, no build: the same on both clusters); the pushes go through git, the gateway, its queue and worker');
  console.log(`\nbench ran ${clock.seconds().toFixed(0)} s; lab down and scratch files removed next`);
  if (failures.length > 0) {
    console.log(`measured deploys that failed (left out of the medians): ${failures.length}`);
    process.exitCode = 1;
  }
  if (accepted !== PUSHES) {
    for (const p of pushes) if (p.exitCode !== 0) console.log(`  push failed: ${pushTail(p.stderr)}`);
    process.exitCode = 1;
  }
}

/** The `n` longest gaps between a deploy's log lines, each named by the line that ended it. */
function slowest(trail: readonly [number, string][], n = 3): string {
  const gaps = trail.slice(1).map(([t, line], i) => ({ seconds: (t - trail[i]![0]) / 1000, line }));
  return gaps.sort((a, b) => b.seconds - a.seconds).slice(0, n).map((g) => `${g.seconds.toFixed(1)} s until "${g.line.slice(0, 90)}"`).join('; ');
}

function fmt(s: number): string {
  return Number.isNaN(s) ? '-' : `${s.toFixed(2)} s`;
}

function pushTail(stderr: string): string {
  return stderr.split('\n').filter((l) => l.startsWith('remote:')).slice(-3).join(' | ');
}

/** How many apps answer 200 through the edge, and the others by what they answered (`000`: nothing). */
async function countServed(edge: string, apps: readonly string[]): Promise<{ served: number; others: string; unserved: string[] }> {
  let served = 0;
  const others = new Map<string, string[]>();
  for (const app of apps) {
    const page = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '10', '-H', `Host: ${app}.scale-bench.test`, `${edge}/`], { reject: false });
    if (page.stdout === '200') served++;
    else others.set(page.stdout, [...(others.get(page.stdout) ?? []), app]);
  }
  return { served, unserved: [...others.values()].flat(), others: [...others].map(([code, list]) => `${code}: ${list.length} (${list.slice(0, 5).join(', ')}${list.length > 5 ? ', ...' : ''})`).join('; ') };
}


/**
 * What the cluster's cache and web hosts say of apps the edge does not
 * serve: the cache's label and backends for each (health as its probes
 * last saw it), and what each web host answers when asked directly.
 */
async function whyUnserved(lab: LabStatus, cluster: ClusterConfig, instances: readonly InstanceConfig[]): Promise<string> {
  const ssh = (host: string, argv: string[]) => run('ssh', ['-F', lab.ssh.config, host, '--', ...argv], { reject: false, timeout: 30_000 });
  const cache = lab.edges.find((e) => e.cluster === cluster.name)!.host;
  const web = cluster.hosts.filter((h) => h.roles.includes('web'));
  const labels = (await ssh(cache, ['varnishadm', 'vcl.list'])).stdout;
  const backends = (await ssh(cache, ['varnishadm', 'backend.list', '-p'])).stdout;
  const lines = [`what ${cluster.name}'s hosts say of ${instances.length} of the apps not served:`];
  for (const instance of instances) {
    const ident = instanceIdent(instance);
    lines.push(`  ${instance.app}: ${labels.split('\n').filter((l) => l.includes(ident)).map((l) => l.trim().replace(/\s+/g, ' ')).join(' | ') || 'no VCL or label in the cache'}`);
    const own = backends.split('\n\n').filter((b) => b.includes(`b_${ident}_`));
    lines.push(...(own.length > 0 ? own.map((b) => `    ${b.trim().replace(/\n\s*/g, ' / ')}`) : ['    no backend in the cache']));
    for (const host of web) {
      const page = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} in %{time_total} s', '-m', '10', '-H', `Host: ${instance.domains[0]}`, `http://${host.address}:${cluster.ports.web}${instance.health.path}`], { reject: false });
      lines.push(`    ${host.name} asked directly for ${instance.health.path}: ${page.stdout}`);
    }
  }
  for (const host of web) {
    for (const log of ['/var/log/apache2/error.log', '/var/log/php8.2-fpm.log']) {
      const tail = await ssh(host.name, ['tail', '-n', '4', log]);
      lines.push(`  ${host.name} ${log}, last lines:`, ...tail.stdout.trim().split('\n').map((l) => `    ${l.slice(0, 300)}`));
    }
  }
  const limits = await ssh(web[0]!.name, ['sh', '-c', 'for p in $(pgrep -f "php-fpm: master|apache2 -k start" | head -n 4); do echo "$p $(cat /proc/$p/comm) open files $(ls /proc/$p/fd | wc -l) of $(grep "open files" /proc/$p/limits | tr -s " " | cut -d" " -f4)"; done']);
  lines.push(`  ${web[0]!.name} processes: ${limits.stdout.trim().split('\n').join('; ')}`);
  return lines.join('\n');
}
