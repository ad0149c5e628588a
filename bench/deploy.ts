/**
 * npm run bench:deploy — Magrathea's deploy against plain parallel
 * `rsync --link-dest` + switch, Capistrano and shipit-deploy: a generated
 * 3004-file, 30.7 MB PHP app on the 4 web hosts of a lab of the bench's
 * own, first deploy and 1-file redeploy, every tool on the same hosts in
 * the same run (each in a directory of its own), one after the other.
 * Prints medians and Magrathea's ratios against the others. Brings its lab
 * down, and stops every process it started, at the end or on failure.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run } from '../src/adapters/exec.js';
import { CHANGED_FILE, changeOneFile, markerOf, writeBenchApp } from './deploy/app.js';
import { capistranoTool } from './deploy/capistrano.js';
import { benchLabUp } from './deploy/lab.js';
import { runBench, type BenchCleanups, type BenchClock } from './harness.js';
import { magratheaTool } from './deploy/magrathea.js';
import { plainTool } from './deploy/plain.js';
import { formatReport, type Goal, type ToolRecord } from './deploy/report.js';
import { shipitTool } from './deploy/shipit.js';
import type { BenchContext, DeployTool } from './deploy/tool.js';

const WEB_HOSTS = 4;
/** First deploys per tool, each to a fresh directory (a fresh app for Magrathea). */
const FIRST_DEPLOYS = 3;
/** 1-file redeploys per tool, on the last first deploy's directory. */
const REDEPLOYS = 5;
const KEEP_RELEASES = 5;
/** One deploy of one tool is killed after this long. */
const DEPLOY_TIMEOUT_MS = 180_000;
/** No new round starts after this long; the rounds done are reported. */
const BUDGET_MS = 8 * 60_000;
/** Past this, the bench brings its lab down and exits, wherever it is. */
const HARD_LIMIT_MS = 15 * 60_000;
/** Issue 14's: redeploys close to plain rsync and well below Capistrano, first deploys close to plain rsync. */
const GOALS: Goal[] = [
  { against: 'plain rsync', of: 'first', atMost: 1.3 },
  { against: 'plain rsync', of: 'redeploy', atMost: 1.3 },
  { against: 'Capistrano', of: 'redeploy', atMost: 0.5 },
];

const stallBefore = await cpuStall();
await runBench({ budgetMs: BUDGET_MS, hardLimitMs: HARD_LIMIT_MS }, main);

async function main(cleanups: BenchCleanups, clock: BenchClock): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'magrathea-bench-deploy-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  // The lab's hosts get a /tmp of their own but see /var/tmp: Capistrano clones the bare repository there.
  const visible = await mkdtemp('/var/tmp/magrathea-bench-deploy-');
  cleanups.push(() => rm(visible, { recursive: true, force: true }));

  const lab = await benchLabUp(join(work, 'lab'), WEB_HOSTS, (down) => cleanups.push(down));
  const cluster = lab.status.hosts.filter((h) => h.roles.includes('web'));
  const app = await writeBenchApp(join(work, 'app'));
  const bare = join(visible, 'app.git');
  await run('git', ['clone', '-q', '--bare', app.repo, bare]);
  const publish = () => run('git', ['-C', app.repo, 'push', '-q', bare, 'master']);

  const ctx: BenchContext = {
    lab: lab.status,
    webHosts: cluster.map((h) => ({ name: h.name, address: h.address })),
    work,
    repo: app.repo,
    bare,
    keepReleases: KEEP_RELEASES,
    timeoutMs: DEPLOY_TIMEOUT_MS,
  };
  console.log(`deploy: a ${app.files}-file, ${(app.bytes / 1e6).toFixed(1)} MB PHP app (${CHANGED_FILE} and ${app.files - 1} others) on ${WEB_HOSTS} web hosts of a lab (${cluster.map((h) => h.address).join(', ')}; edge ${lab.status.edges[0]!.url})`);
  console.log(`  lab up in ${lab.seconds.toFixed(1)} s; first deploy: ${FIRST_DEPLOYS} per tool, each to a fresh directory (Magrathea: a fresh app); 1-file redeploy: ${REDEPLOYS} rounds, each a commit changing one PHP file`);
  console.log('  the tools deploy one after the other, never together, in an order rotated each round; each deploy is checked on every host after its clock stopped');

  const tools: DeployTool[] = [magratheaTool(ctx), plainTool(ctx), capistranoTool(ctx), shipitTool(ctx)];
  const records = new Map<DeployTool, ToolRecord>(tools.map((t) => [t, { name: t.name, does: t.does, lacks: t.lacks, first: [], redeploy: [] }]));
  for (const tool of tools) {
    cleanups.push(async () => tool.close?.());
    try {
      records.get(tool)!.version = await tool.prepare();
    } catch (e) {
      records.get(tool)!.error = `cannot run here: ${(e as Error).message}`;
      console.log(`  ${tool.name}: cannot run here: ${(e as Error).message}`);
    }
  }
  const usable = () => tools.filter((t) => !records.get(t)!.error);

  const measure = async (tool: DeployTool, kind: 'first' | 'redeploy', target: string, marker: string, label: string): Promise<void> => {
    const record = records.get(tool)!;
    if (cleanups.stopping()) return; // stopping: the lab is going down
    const t0 = performance.now();
    try {
      const detail = await tool.deploy(target);
      const seconds = (performance.now() - t0) / 1000;
      await tool.check(target, marker);
      record[kind].push({ seconds, ...(detail ?? {}) });
      console.log(`  ${label}  ${tool.name.padEnd(14)} ${seconds.toFixed(2)} s`);
    } catch (e) {
      if (cleanups.stopping()) return;
      record.error = `${label}: ${(e as Error).message.trim().split('\n').slice(-6).join(' | ')}`;
      console.log(`  ${label}  ${tool.name.padEnd(14)} failed: ${record.error}`);
    }
  };
  const rotated = (round: number): DeployTool[] => {
    const list = usable();
    const k = list.length === 0 ? 0 : round % list.length;
    return [...list.slice(k), ...list.slice(0, k)];
  };
  let round = 0;
  let target = '';
  for (let i = 1; i <= FIRST_DEPLOYS && !clock.overBudget(); i++, round++) {
    target = `f${i}`;
    for (const tool of rotated(round)) await measure(tool, 'first', target, markerOf(0), `first deploy ${i}/${FIRST_DEPLOYS}`);
  }
  for (let i = 1; i <= REDEPLOYS && !clock.overBudget(); i++, round++) {
    const marker = await changeOneFile(app.repo, i);
    await publish();
    for (const tool of rotated(round)) await measure(tool, 'redeploy', target, marker, `1-file redeploy ${i}/${REDEPLOYS}`);
  }
  if (round < FIRST_DEPLOYS + REDEPLOYS) console.log(`  stopped starting rounds after ${BUDGET_MS / 60_000} minutes: the figures below are of the rounds done`);

  console.log('');
  process.stdout.write(formatReport([...records.values()], GOALS));
  const elapsed = clock.seconds();
  const stallAfter = await cpuStall();
  const pressure = stallBefore !== undefined && stallAfter !== undefined ? `; runnable tasks waited for a CPU ${((100 * (stallAfter - stallBefore)) / 1e6 / elapsed).toFixed(0)}% of the time` : '';
  console.log(`\nmachine: ${clock.machine}${pressure}: other work on this machine slows every tool, ratios less than absolute times`);
  console.log(`bench ran ${elapsed.toFixed(0)} s; lab down and scratch files removed next`);
  // A tool that cannot run here is reported and the run still counts; a deploy that failed half way does not.
  const failed = [...records.values()].filter((r) => r.error && !r.error.startsWith('cannot run here'));
  if (failed.length > 0) {
    console.error(`bench: deploys failed: ${failed.map((r) => r.name).join(', ')} (see above)`);
    process.exitCode = 1;
  }
}

/** Microseconds tasks of this machine have waited for a CPU since boot (Linux PSI), when the kernel tells. */
async function cpuStall(): Promise<number | undefined> {
  const text = await readFile('/proc/pressure/cpu', 'utf8').catch(() => '');
  const total = /^some .*total=(\d+)/m.exec(text)?.[1];
  return total === undefined ? undefined : Number(total);
}
