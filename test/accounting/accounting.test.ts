import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, start } from '../../src/adapters/exec.js';
import { createKeys } from '../../src/state/keys.js';
import { openRedis, type RedisHandle } from '../../src/state/redis.js';
import { quotaWarnings } from '../../src/accounting/read-usage.js';
import { runAccounting, sweepControlDirs } from '../../src/accounting/run-accounting.js';
import { buildRelease, exportTree } from '../../src/builder/build-release.js';
import { loadGatewayConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/core/config/types.js';
import type { UsageReport } from '../../src/core/accounting/usage.js';
import { deploy } from '../../src/deployer/deploy.js';
import { redisDeployState } from '../../src/deployer/redis-state.js';
import type { DeployState } from '../../src/deployer/types.js';
import { listProcesses, stopProcesses } from '../../src/lab/processes.js';
import type { LabStatus } from '../../src/lab/status.js';
import { readApp } from '../../src/builder/manifest.js';
import { sshRun, useOwnLab } from '../helpers/lab.js';

/**
 * Accounting on a lab of its own (2 clusters x 1 web host; this suite
 * rotates the edge logs and kills runs): two apps deployed on both
 * clusters, requests sent through the edges, counted by `magrathea
 * accounting run` (the built CLI, as an operator runs it) and read back
 * with `magrathea usage --json`. Every count is a difference from the
 * usage before the requests: deploys' own checks are requests too.
 */
const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const PREFIX = `acct${process.pid}`;
const A = 'acca';
const B = 'accb';
let lab: LabStatus;
let config: GatewayConfig;
let redis: RedisHandle;
let state: DeployState;
let work: string;
const releases: Record<string, number> = {};
const children: ReturnType<typeof start>[] = [];

beforeAll(async () => {
  lab = await useOwnLab('accounting', { clusters: 2, webHosts: 1 }, [201, 203, 205, 207]);
  config = await loadGatewayConfig(lab.config);
  // The CLI finds this server running in the lab's gateway state directory and uses it; this suite stops it.
  redis = await openRedis({ stateDir: config.gateway.stateDir, env: {} });
  state = redisDeployState({ redis: redis.client, keys: createKeys(PREFIX) });
  work = await mkdtemp(join(tmpdir(), 'magrathea-accounting-test-'));
  for (const app of [A, B]) {
    await writeApp(app, 1000);
    await deployApp(app);
  }
}, 240_000);

afterAll(async () => {
  for (const child of children) {
    child.kill('SIGKILL');
    await child.catch(() => undefined);
  }
  // SSH connections a killed run left behind (they would end by themselves a minute later): the lab's key names them.
  if (lab) {
    const masters: number[] = [];
    for (const pid of await listProcesses()) {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (argv[0] === 'ssh' && argv.includes('ControlMaster=yes') && argv.includes(`IdentityFile=${lab.ssh.identity}`)) masters.push(pid);
    }
    await stopProcesses(masters);
    await sweepControlDirs(config);
  }
  await redis?.stop();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

/** A small PHP app: pages of `size` bytes (404 with ?missing), cached by Varnish for 120 s, but never /fresh.php. */
async function writeApp(app: string, size: number, extra?: { name: string; bytes: number }): Promise<void> {
  const dir = join(work, app);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'public'), { recursive: true });
  await writeFile(join(dir, 'magrathea.yml'), [
    'stack: { php: "8.2", docroot: public }',
    'domains: ["${app}.example.com"]',
    'cache: { ttl: 120s, pass: ["^/fresh"] }',
    'environments:',
    '  production: { branch: master, clusters: [cluster-a, cluster-b] }',
    '',
  ].join('\n'));
  const page = `<?php\nif (isset($_GET['missing'])) { http_response_code(404); }\necho str_repeat('x', ${size} + strlen($_SERVER['REQUEST_URI'])), "\\n";\n`;
  await writeFile(join(dir, 'public/index.php'), page);
  await writeFile(join(dir, 'public/fresh.php'), page);
  if (extra) await writeFile(join(dir, 'public', extra.name), randomBytes(extra.bytes));
  await run('git', ['init', '-q', '-b', 'master', dir]);
  await run('git', ['-C', dir, 'add', '-A']);
  await run('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '--allow-empty', '-m', 'change']);
}

async function deployApp(app: string): Promise<void> {
  const dir = join(work, app);
  const head = (await run('git', ['-C', dir, 'rev-parse', 'HEAD'])).stdout.trim();
  const n = (releases[app] = (releases[app] ?? 0) + 1);
  const tree = join(work, `${app}-tree-${n}`);
  await exportTree(dir, head, tree, `${dir}.checkout`);
  const built = await buildRelease({ tree, commit: head, workspace: join(work, `${app}-build`), commands: [] });
  const source = await readApp(dir, app);
  const result = await deploy({ app, env: 'production', release: `r${n}`, manifest: source.manifest, source: built.dir }, { config, state, log: () => undefined });
  expect(result.clusters.map((c) => `${c.status}${c.error ? `: ${c.error}` : ''}`)).toEqual(['live', 'live']);
}

const env = { MAGRATHEA_REDIS_PREFIX: PREFIX, REDIS_URL: '' };
function magrathea(...args: string[]) {
  return run('node', [CLI, ...args], { env, reject: false, timeout: 120_000 });
}

async function accountingRun(...extra: string[]): Promise<void> {
  const result = await magrathea('accounting', 'run', '--config', lab.config, ...extra);
  expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: '' });
}

interface Counted {
  requests: number;
  bytesIn: number;
  bytesOut: number;
  status: Record<string, number>;
}

/** What `usage --json` says of app, per cluster. */
async function usage(app: string, configDir = lab.config): Promise<UsageReport> {
  const result = await magrathea('usage', app, '--json', '--config', configDir);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as UsageReport;
}

function traffic(report: UsageReport, cluster: string): Counted {
  const c = report.clusters.find((x) => x.cluster === cluster);
  return { requests: c?.requests ?? 0, bytesIn: c?.bytesIn ?? 0, bytesOut: c?.bytesOut ?? 0, status: { ...c?.status } };
}

function edge(cluster: string): string {
  return lab.edges.find((e) => e.cluster === cluster)!.url;
}

/** The edge log lines of a cache host (previous file first), read from the host's own layer. */
async function logLines(cluster: string): Promise<string[]> {
  const host = lab.edges.find((e) => e.cluster === cluster)!.host;
  const dir = join(lab.dir, 'hosts', host, 'fs', 'var/log/magrathea');
  const lines: string[] = [];
  for (const file of ['edge.log.1', 'edge.log']) lines.push(...(await readFile(join(dir, file), 'latin1').catch(() => '')).split('\n').filter(Boolean));
  return lines;
}

/** Waits until varnishncsa has written `count` more lines than `before` for app (it writes a moment after the response). */
async function waitForLines(cluster: string, app: string, before: number, count: number): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const mine = (await logLines(cluster)).filter((l) => l.split(' ')[1] === `${app}_production`);
    if (mine.length >= before + count) return mine.slice(before);
    if (Date.now() > deadline) throw new Error(`${cluster}: ${mine.length - before} of ${count} lines of ${app} in the edge log after 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const mineCount = async (cluster: string, app: string): Promise<number> => (await logLines(cluster)).filter((l) => l.split(' ')[1] === `${app}_production`).length;

/** GETs of the paths through a cluster's edge: one curl for up to 100 of them, on one connection. */
async function send(cluster: string, app: string, paths: readonly string[]): Promise<void> {
  for (let i = 0; i < paths.length; i += 100) {
    const urls = paths.slice(i, i + 100).flatMap((path) => ['-o', '/dev/null', `${edge(cluster)}${path}`]);
    await run('curl', ['-s', '-S', '--fail-early', '--max-time', '30', '-H', `Host: ${app}.example.com`, ...urls]);
  }
}

/** The sums of the given log lines, as the edge log says them. */
function sumLines(lines: string[]): Omit<Counted, 'status'> {
  return lines.reduce((s, l) => {
    const f = l.split(' ');
    return { requests: s.requests + 1, bytesIn: s.bytesIn + Number(f[3]), bytesOut: s.bytesOut + Number(f[4]) };
  }, { requests: 0, bytesIn: 0, bytesOut: 0 });
}

/** SIGKILL as soon as the child prints `pattern` (a step was committed); fails if it ends first. */
function killWhen(child: ReturnType<typeof start>, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => (pattern.test(out) ? resolve() : reject(new Error(`ended before printing ${pattern}: ${out}`))));
  });
}

const minus = (a: Counted, b: Counted): Omit<Counted, 'status'> => ({ requests: a.requests - b.requests, bytesIn: a.bytesIn - b.bytesIn, bytesOut: a.bytesOut - b.bytesOut });

describe('traffic counted at the edge', () => {
  it('counts exactly the requests sent to each app through each edge, cache hits included, with the bytes the edge log says', async () => {
    await accountingRun();
    const before = { a: await usage(A), b: await usage(B) };
    const lines = { aa: await mineCount('cluster-a', A), ab: await mineCount('cluster-b', A), ba: await mineCount('cluster-a', B) };
    // A: 20 times the same page on cluster-a (one miss, then hits), 7 distinct pages on cluster-b. B: 9 never cached, 4 not found.
    await send('cluster-a', A, Array(20).fill('/?same'));
    await send('cluster-b', A, Array.from({ length: 7 }, (_, i) => `/?page-${i}`));
    await send('cluster-a', B, [...Array.from({ length: 9 }, (_, i) => `/fresh.php?${i}`), ...Array.from({ length: 4 }, (_, i) => `/?missing=${i}`)]);
    const logged = {
      aa: await waitForLines('cluster-a', A, lines.aa, 20),
      ab: await waitForLines('cluster-b', A, lines.ab, 7),
      ba: await waitForLines('cluster-a', B, lines.ba, 13),
    };
    expect(logged.aa.filter((l) => l.split(' ')[5] === 'hit').length).toBeGreaterThanOrEqual(18);
    // Apache saw only the misses: counting there would have missed the hits.
    const apache = (await sshRun(lab, 'a-web-1', ['grep', '-c', 'GET /?same', `/var/log/magrathea/${A}/production/access.log`], { reject: false })).stdout.trim();
    expect(Number(apache)).toBeLessThanOrEqual(2);

    await accountingRun();
    const after = { a: await usage(A), b: await usage(B) };
    expect(minus(traffic(after.a, 'cluster-a'), traffic(before.a, 'cluster-a'))).toEqual(sumLines(logged.aa));
    expect(minus(traffic(after.a, 'cluster-b'), traffic(before.a, 'cluster-b'))).toEqual(sumLines(logged.ab));
    expect(minus(traffic(after.b, 'cluster-a'), traffic(before.b, 'cluster-a'))).toEqual(sumLines(logged.ba));
    expect(after.a.total.requests - before.a.total.requests).toBe(27);
    expect(after.b.total.requests - before.b.total.requests).toBe(13);
    expect(traffic(after.b, 'cluster-a').status['4xx']! - traffic(before.b, 'cluster-a').status['4xx']!).toBe(4);
    expect(after.a.total.status['2xx'] - before.a.total.status['2xx']).toBe(27);
    // Bytes out: at least the pages' bodies (1000 bytes and the path each).
    expect(sumLines(logged.aa).bytesOut).toBeGreaterThan(20 * 1005);

    // Nothing new: nothing more counted.
    await accountingRun();
    expect((await usage(A)).total).toEqual(after.a.total);
    const table = await magrathea('usage', A, '--config', lab.config);
    expect(table.stdout).toMatch(/^production\s+cluster-a\s+\d+/m);
    expect(table.stdout).toMatch(/^total\s+\d+/m);
  }, 120_000);

  it('follows a rotation by rename and create (before and after varnishncsa reopens) and by copytruncate: every line once', async () => {
    const rotate = (script: string) => sshRun(lab, 'a-edge', ['sh', '-c', `cd /var/log/magrathea && ${script}`]);
    await accountingRun();
    const before = traffic(await usage(A), 'cluster-a');
    let seen = await mineCount('cluster-a', A);
    const step = async (count: number, tag: string): Promise<void> => {
      await send('cluster-a', A, Array.from({ length: count }, (_, i) => `/?${tag}-${i}`));
      await waitForLines('cluster-a', A, seen, count);
      seen += count;
    };
    await step(5, 'r1');
    await rotate('mv edge.log edge.log.1');
    // What the files hold now (a previous edge.log.1 was replaced).
    seen = await mineCount('cluster-a', A);
    // varnishncsa still writes to the renamed file until its SIGHUP.
    await step(4, 'r2');
    await accountingRun();
    expect(traffic(await usage(A), 'cluster-a').requests - before.requests).toBe(9);
    await rotate('kill -HUP "$(cat /run/varnishncsa.pid)"');
    await step(6, 'r3');
    await accountingRun();
    expect(traffic(await usage(A), 'cluster-a').requests - before.requests).toBe(15);

    // copytruncate (its own log lines are read from the copy, then from the truncated file's start).
    await step(8, 'c1');
    await rotate('cp -p edge.log edge.log.1 && truncate -s 0 edge.log');
    seen = await mineCount('cluster-a', A);
    await step(3, 'c2');
    await accountingRun();
    expect(traffic(await usage(A), 'cluster-a').requests - before.requests).toBe(26);
    // And the lines read from a rotated file are not read again.
    await accountingRun();
    expect(traffic(await usage(A), 'cluster-a').requests - before.requests).toBe(26);
  }, 120_000);

  it('a run killed during its reads, then run again: every line counted once', async () => {
    await accountingRun();
    const before = traffic(await usage(B), 'cluster-b');
    const seen = await mineCount('cluster-b', B);
    await send('cluster-b', B, Array.from({ length: 600 }, (_, i) => `/fresh.php?k${i}&${'q'.repeat(100)}`));
    await waitForLines('cluster-b', B, seen, 600);
    // Steps of 4 KiB (about 50 of them): some are committed when the first says so, the others not yet.
    const killed = start('node', [CLI, 'accounting', 'run', '--chunk', '4K', '--cluster', 'cluster-b', '--config', lab.config], { env });
    children.push(killed);
    await killWhen(killed, /b-edge: \d+ line\(s\)/);
    const exit = await killed;
    expect(exit.signal).toBe('SIGKILL');
    const partial = traffic(await usage(B), 'cluster-b').requests - before.requests;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(600);
    process.stdout.write(`the killed run had counted ${partial} of 600 lines\n`);
    await accountingRun('--chunk', '4K');
    expect(traffic(await usage(B), 'cluster-b').requests - before.requests).toBe(600);
  }, 120_000);

  it('two runs at once count every line once', async () => {
    await accountingRun();
    const before = traffic(await usage(A), 'cluster-b');
    const seen = await mineCount('cluster-b', A);
    await send('cluster-b', A, Array.from({ length: 60 }, (_, i) => `/?both-${i}&${'z'.repeat(200)}`));
    await waitForLines('cluster-b', A, seen, 60);
    const context = { redis: redis.client, keys: createKeys(PREFIX) };
    const runs = await Promise.all([1, 2].map(() => runAccounting({ config, redis: context, chunkBytes: 4096 })));
    // On a busy machine one run may leave the log to the other: it says so, and it is no error.
    expect(runs.flatMap((r) => r.visits.filter((v) => v.error))).toEqual([]);
    for (const warning of runs.flatMap((r) => r.visits.flatMap((v) => v.warnings ?? []))) expect(warning).toMatch(/another run was counting this edge log/);
    expect(runs.reduce((n, r) => n + r.visits.reduce((m, v) => m + v.lines, 0), 0)).toBe(60);
    expect(traffic(await usage(A), 'cluster-b').requests - before.requests).toBe(60);
  }, 120_000);

  it('the scheduled job counts on its own, also after its worker is killed during a run; `magrathea worker` runs it too', async () => {
    // A configuration of the lab with a 10 s interval.
    const dir = join(work, 'config-10s');
    await cp(lab.config, dir, { recursive: true });
    await writeFile(join(dir, 'gateway.yml'), `${await readFile(join(dir, 'gateway.yml'), 'utf8')}accounting:\n  interval: 10s\n`);
    await accountingRun();
    const before = traffic(await usage(B), 'cluster-a');
    const seen = await mineCount('cluster-a', B);
    await send('cluster-a', B, Array.from({ length: 120 }, (_, i) => `/fresh.php?w${i}&${'w'.repeat(100)}`));
    await waitForLines('cluster-a', B, seen, 120);

    const worker = (...args: string[]): ReturnType<typeof start> => {
      const child = start('node', [CLI, ...args, '--config', dir], { env });
      children.push(child);
      return child;
    };
    const first = worker('accounting', 'worker', '--chunk', '4K');
    await killWhen(first, /a-edge: \d+ line\(s\)/);
    expect((await first).signal).toBe('SIGKILL');
    // The deploy worker schedules and runs the accounting job as well (so does `magrathea serve`).
    const second = worker('worker');
    let printed = '';
    second.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const deadline = Date.now() + 60_000;
    let counted = 0;
    while (Date.now() < deadline && (counted = traffic(await usage(B), 'cluster-a').requests - before.requests) < 120) await new Promise((r) => setTimeout(r, 1000));
    expect(counted).toBe(120);
    // One more scheduled run later, still exact.
    await new Promise((r) => setTimeout(r, 11_000));
    expect(traffic(await usage(B), 'cluster-a').requests - before.requests).toBe(120);
    second.kill('SIGTERM');
    expect((await second).exitCode).toBe(0);
    expect(printed).toMatch(/accounting every 10 s/);
    expect(printed).toMatch(/accounting run of \d+ host\(s\) in [\d.]+ s: \d+ edge log line\(s\), 0 failure\(s\)/);
  }, 150_000);
});

describe('disk used per instance', () => {
  const disk = async (app: string): Promise<Record<string, number>> => {
    await accountingRun();
    const report = await usage(app);
    return Object.fromEntries(report.instances.flatMap((i) => Object.entries(i.disk).map(([host, d]) => [host, d.bytes])));
  };

  it('grows after a deploy of a bigger release and shrinks once old releases are cleaned up', async () => {
    config.gateway.keepReleases = 2;
    const first = await disk(A);
    expect(Object.keys(first).sort()).toEqual(['a-web-1', 'b-web-1']);
    const MiB = 1024 * 1024;
    await writeApp(A, 1000, { name: 'big.bin', bytes: 3 * MiB });
    await deployApp(A);
    const bigger = await disk(A);
    for (const host of ['a-web-1', 'b-web-1']) expect(bigger[host]! - first[host]!).toBeGreaterThanOrEqual(3 * MiB);
    // Two more small releases: the one with big.bin is the third newest, removed with keep_releases 2.
    await writeApp(A, 1000);
    await deployApp(A);
    await writeApp(A, 1001);
    await deployApp(A);
    const smaller = await disk(A);
    for (const host of ['a-web-1', 'b-web-1']) expect(bigger[host]! - smaller[host]!).toBeGreaterThanOrEqual(2.5 * MiB);
    // The day's largest figure is kept.
    const keys = createKeys(PREFIX);
    const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');
    expect(Number(await redis.client.hget(keys.diskDay(A, 'production', today), 'cluster-a:a-web-1'))).toBe(bigger['a-web-1']);
  }, 240_000);
});

describe('quotas', () => {
  it('warn in usage and through quotaWarnings when crossed, and only then', async () => {
    const dir = join(work, 'config-quota');
    await cp(lab.config, dir, { recursive: true });
    await writeFile(join(dir, 'gateway.yml'), `${await readFile(join(dir, 'gateway.yml'), 'utf8')}accounting:\n  quotas:\n    default: { disk: 1T, traffic: 1T }\n    apps: { ${A}: { disk: 4K, traffic: 1K } }\n`);
    const table = await magrathea('usage', A, '--config', dir);
    expect(table.stdout).toMatch(/^warning: acca uses .* of disk on a host, over its quota of 4\.0 KiB$/m);
    expect(table.stdout).toMatch(/^warning: acca has used .* of web traffic this month, over its quota of 1\.0 KiB$/m);
    expect((await magrathea('usage', B, '--config', dir)).stdout).not.toMatch(/warning/);
    const quotaConfig = await loadGatewayConfig(dir);
    const context = { redis: redis.client, keys: createKeys(PREFIX) };
    expect(await quotaWarnings(context, quotaConfig, A)).toHaveLength(2);
    expect(await quotaWarnings(context, quotaConfig, B)).toEqual([]);
    expect(await quotaWarnings(context, config, A)).toEqual([]);
  }, 60_000);

  it('refuses hostile arguments before touching anything', async () => {
    for (const args of [['usage', 'a;id'], ['usage', A, '--since', '1s'], ['usage', A, '--since', '7d;id'], ['accounting', 'run', '--chunk', '1'], ['accounting', 'rm']]) {
      expect((await magrathea(...args, '--config', lab.config)).exitCode).toBe(2);
    }
  });
});
