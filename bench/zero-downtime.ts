/**
 * npm run bench:zero-downtime — requests through both edges of a lab of the
 * bench's own (2 clusters x 2 web hosts) while 20 deploys switch them:
 * code changes, config changes (an env var and a domain: every service
 * reloaded) and rollbacks, mixed. A stream of short requests and a slow
 * page (2.5 s) sent every half second, both to each edge in turn. Prints
 * the requests, the failures by status and the slowest answer; the goal is
 * no failure. Bounded in deploys, requests and time; brings its lab down
 * and stops every process it started (by PID), at the end or on failure.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run } from '../src/adapters/exec.js';
import { createKeys } from '../src/state/keys.js';
import { openRedis } from '../src/state/redis.js';
import { loadGatewayConfig } from '../src/config/load.js';
import { redisDeployState } from '../src/deployer/redis-state.js';
import { benchLabUp } from './deploy/lab.js';
import { runBench, type BenchCleanups, type BenchClock } from './harness.js';
import { commitAll, deployHead, rollBack, writeApp, type AppVersion, type DeployContext } from './zero-downtime/app.js';
import { formatFailures, get, RequestStream, summarize, type Hit, type Target } from './zero-downtime/traffic.js';

const APP = 'zdbench';
const CLUSTERS = ['cluster-a', 'cluster-b'];
const DEPLOYS = 20;
/** What each deploy of a round of five is: a code change, a config change, its rollback, two code changes. */
const KINDS = ['code', 'config', 'rollback', 'code', 'code'] as const;
/** Short requests at once, each loop asking the edges in turn; a pause between two requests of a loop. */
const CONCURRENCY = 4;
const PAUSE_MS = 5;
const MAX_REQUESTS = 200_000;
/** A slow request every this long, to each edge in turn. */
const SLOW_EVERY_MS = 500;
/** Between two deploys: the stream runs on a settled cluster too. */
const BETWEEN_MS = 1000;
/** No deploy starts after this long; the deploys done are reported. */
const BUDGET_MS = 8 * 60_000;
/** Past this, the bench brings its lab down and exits, wherever it is. */
const HARD_LIMIT_MS = 12 * 60_000;

await runBench({ budgetMs: BUDGET_MS, hardLimitMs: HARD_LIMIT_MS }, main);

async function main(cleanups: BenchCleanups, clock: BenchClock): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'magrathea-bench-zd-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  const lab = await benchLabUp(join(work, 'lab'), 2, (down) => cleanups.push(down), CLUSTERS.length);
  const config = await loadGatewayConfig(lab.status.config);
  config.gateway.stateDir = join(work, 'state');
  const redis = await openRedis({ stateDir: config.gateway.stateDir, env: {} });
  cleanups.push(() => redis.stop());
  const repo = join(work, APP);
  await run('git', ['init', '-q', '-b', 'master', repo]);
  const ctx: DeployContext = { app: APP, repo, work, config, state: redisDeployState({ redis: redis.client, keys: createKeys('zdbench') }), log: () => undefined };
  const targets: Target[] = lab.status.edges.map((e) => ({ url: e.url, host: `${APP}.example.com` }));

  let version: AppVersion = { code: 'code0', mark: 'mark0', extraDomain: false };
  let n = 0;
  const releases: string[] = [];
  const ship = async (next: AppVersion): Promise<void> => {
    await writeApp(repo, APP, CLUSTERS, next);
    await commitAll(repo, next.code);
    const id = `r${++n}`;
    const result = await deployHead(ctx, id);
    if (!result.ok) throw new Error(`deploy ${id} failed: ${result.clusters.map((c) => c.error).filter(Boolean).join('; ')}`);
    releases.push(id);
    version = next;
  };
  await ship(version);
  console.log(`zero-downtime: ${DEPLOYS} deploys (${KINDS.join(', ')}, repeated) of a 4-page PHP app on a lab of ${CLUSTERS.length} clusters x 2 web hosts (lab up in ${lab.seconds.toFixed(1)} s; edges ${targets.map((t) => t.url).join(', ')})`);
  console.log(`  during them: ${CONCURRENCY} loops of short requests (${PAUSE_MS} ms apart) and a ${2.5} s page every ${SLOW_EVERY_MS} ms, to each edge in turn, each on a new connection`);

  const stream = new RequestStream(targets, CONCURRENCY, PAUSE_MS, MAX_REQUESTS);
  const slow: Promise<{ target: Target; hit: Hit }>[] = [];
  let sending = true;
  const waves = (async () => {
    for (let i = 0; sending; i++) {
      const target = targets[i % targets.length]!;
      slow.push(get(`${target.url}/slow.php?w=${i}`, target.host).then((hit) => ({ target, hit })));
      await new Promise((r) => setTimeout(r, SLOW_EVERY_MS));
    }
  })();

  const seconds: Record<string, number[]> = { code: [], config: [], rollback: [] };
  let live = releases.at(-1)!;
  try {
    for (let i = 0; i < DEPLOYS && !clock.overBudget(); i++) {
      await new Promise((r) => setTimeout(r, BETWEEN_MS));
      const kind = KINDS[i % KINDS.length]!;
      const t0 = performance.now();
      if (kind === 'rollback') {
        // Back to the release before the live one, on both clusters at once, as `magrathea rollback` does for each.
        const target = releases[releases.indexOf(live) - 1]!;
        const outcomes = await Promise.all(CLUSTERS.map((c) => rollBack(ctx, c, target)));
        const failed = outcomes.filter((o) => o.status !== 'live');
        if (failed.length > 0) throw new Error(`rollback to ${target} failed: ${failed.map((o) => o.error).join('; ')}`);
        live = target;
      } else {
        const next = kind === 'code' ? { ...version, code: `code${i + 1}` } : { ...version, mark: `mark${i + 1}`, extraDomain: !version.extraDomain };
        await ship(next);
        live = releases.at(-1)!;
      }
      seconds[kind]!.push((performance.now() - t0) / 1000);
      console.log(`  ${String(i + 1).padStart(2)}/${DEPLOYS} ${kind.padEnd(8)} -> ${live}  ${((performance.now() - t0) / 1000).toFixed(1)} s  (${stream.count} short requests so far)`);
    }
  } finally {
    sending = false;
    await waves;
  }
  await new Promise((r) => setTimeout(r, BETWEEN_MS));
  const short = await stream.stop();
  const slowHits = await Promise.all(slow);
  const slowSummary = summarize(slowHits);
  const done = Object.values(seconds).flat().length;
  // The last deploy's release must be what every web host answers now (a deploy that switched nothing would pass the rest).
  const now = await Promise.all(targets.map((t) => get(`${t.url}/?final`, t.host)));
  const expected = (await ctx.state.releaseInstance(APP, 'production', live, 'cluster-a'))?.envTemplates.MARK;

  console.log('');
  console.log(`deploys: ${done} (${Object.entries(seconds).map(([k, v]) => `${v.length} ${k}, median ${median(v).toFixed(1)} s`).join('; ')})`);
  console.log(`short requests: ${short.requests}, failures: ${short.failed} (${formatFailures(short.failures)}), slowest ${(short.slowestMs / 1000).toFixed(2)} s`);
  console.log(`slow requests (2.5 s): ${slowSummary.requests}, failures: ${slowSummary.failed} (${formatFailures(slowSummary.failures)}), slowest ${(slowSummary.slowestMs / 1000).toFixed(2)} s`);
  for (const example of [...short.examples, ...slowSummary.examples]) console.log(`  failed: ${example}`);
  console.log(`now: ${now.map((h, i) => `${targets[i]!.url} answers ${h.status} ${h.body.trim()}`).join('; ')} (live: ${live}, MARK ${expected})`);
  const failures = short.failed + slowSummary.failed;
  console.log(`goal: 0 failures in ${short.requests + slowSummary.requests} requests: ${failures === 0 ? 'met' : `missed (${failures})`}`);
  console.log(`\nmachine: ${clock.machine}; bench ran ${clock.seconds().toFixed(0)} s; lab down and scratch files removed next`);
  if (done < DEPLOYS) console.log(`  stopped starting deploys after ${BUDGET_MS / 60_000} minutes: ${done} of ${DEPLOYS} done`);
  if (failures > 0 || now.some((h) => h.status !== 200 || h.body.split(' ')[1] !== expected)) process.exitCode = 1;
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
