/**
 * npm run bench:accounting — sums a generated 1 GiB edge log (the format
 * cache hosts write, EDGE_LOG_FORMAT) per instance and hour with our
 * parser, with mawk and with GoAccess, and counts its lines with `wc -l`
 * (the floor: reading the file and finding newlines, nothing else), in one
 * run, each as its own process on the same file, warm in the page cache.
 * Our sums must equal awk's, line for line. GoAccess has no per-vhost
 * per-hour view: what it computes (per vhost, per hour) is checked against
 * our sums added up the same way.
 *
 * `node dist/bench/accounting.js --sum FILE` is our side: it prints the
 * sums as awk does.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RunResult } from '../src/adapters/exec.js';
import { parseEdgeLogFile } from '../src/accounting/parse-log.js';
import { STATUS_CLASSES } from '../src/core/accounting/parser.js';

// `--bytes N` makes a smaller log, to try the bench quickly.
const SIZE = process.argv[2] === '--bytes' ? Number(process.argv[3]) : 1024 ** 3;
const HOURS = 72;
const START = Date.UTC(2026, 0, 5) / 1000;
const ROUNDS = 7;

/** Our side of the comparison: the sums, printed as awk prints them. */
async function sum(file: string): Promise<void> {
  const t0 = performance.now();
  const result = await parseEdgeLogFile(file);
  const ms = performance.now() - t0;
  const lines = result.rows.map((r) => [r.ident, r.hour, r.requests, r.bytesIn, r.bytesOut, ...r.status].join('\t'));
  // Not process.exit(): it would cut what a pipe has not taken yet.
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stderr.write(`threads ${result.threads}, lines ${result.lines}, malformed ${result.malformed}, parsed in ${ms.toFixed(0)} ms\n`);
}

/** What mawk runs: the same sums, the same output. */
const AWK = [
  '{ k = $2 "\\t" int($1 / 3600); n[k]++; i[k] += $4; o[k] += $5; c = int(substr($3, 1, 1)); if (c < 1 || c > 5) c = 6; s[k, c]++ }',
  'END { for (k in n) printf "%s\\t%d\\t%.0f\\t%.0f\\t%d\\t%d\\t%d\\t%d\\t%d\\t%d\\n", k, n[k], i[k], o[k], s[k, 1], s[k, 2], s[k, 3], s[k, 4], s[k, 5], s[k, 6] }',
].join('\n');

/** GoAccess's reading of the same lines: %x the time (epoch seconds), %v the instance as virtual host, %b bytes out. */
const GOACCESS_FORMAT = '%x %v %s %^ %b %^ "%h, %^" "%r" "%^" "%R" "%u"';
const GOACCESS_IGNORED = ['REQUESTS', 'REQUESTS_STATIC', 'NOT_FOUND', 'HOSTS', 'OS', 'BROWSERS', 'VISIT_TIMES', 'REFERRERS', 'REFERRING_SITES',
  'KEYPHRASES', 'STATUS_CODES', 'REMOTE_USER', 'CACHE_STATUS', 'GEO_LOCATION', 'MIME_TYPE', 'TLS_TYPE'];

/** xorshift32: the same log on every run. */
function random(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** About SIZE bytes of edge log: 60 instances (a few busy, most quiet), 72 hours, lines a few seconds out of order as varnishncsa writes them. */
function generate(path: string): { lines: number; bytes: number } {
  const r = random(0x9e3779b9);
  const apps = Array.from({ length: 30 }, (_, i) => ['shop', 'blog', 'wiki', 'api', 'crm', 'forum'][i % 6] + (i < 6 ? '' : `-${i}`));
  const instances = apps.flatMap((app) => [`${app}_production`, `${app}_staging`]).map((ident) => ({ ident, host: `${ident.replace('_production', '').replace('_', '-')}.example.com` }));
  // Weights: instance i gets about 1/(i+1) of the traffic.
  const weights = instances.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const table = instances.flatMap((inst, i) => Array<typeof inst>(Math.max(1, Math.round((weights[i]! / total) * 2000))).fill(inst));
  const statuses = [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 304, 304, 301, 302, 404, 404, 206, 500, 503, 101];
  const handling = ['hit', 'hit', 'hit', 'miss', 'miss', 'pass', 'synth', 'pipe'];
  const paths = ['/', '/products/', '/api/v1/items/', '/static/app.', '/blog/2025/', '/search?q=', '/account/orders/'];
  const agents = [
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
    'curl/8.5.0',
    'Googlebot/2.1 (+http://www.google.com/bot.html)',
  ];
  // The part of each line accounting skips, drawn once per instance (64 each): generating 1 GiB stays quick.
  const tails = new Map(instances.map(({ ident, host }) => [ident, Array.from({ length: 64 }, () => {
    const path = `${paths[r(paths.length)]}${r(100_000)}${r(3) === 0 ? `?ref=${r(1_000_000)}&utm_source=newsletter` : ''}`;
    const method = r(10) === 0 ? 'POST' : r(20) === 0 ? 'HEAD' : 'GET';
    const referer = r(3) === 0 ? '-' : `https://${host}/`;
    return `${handling[r(handling.length)]} "203.0.${r(256)}.${r(256)}, 127.0.1.3" "${method} ${path} HTTP/1.1" "${host}" "${referer}" "${agents[r(agents.length)]}"`;
  })]));
  const fd = openSync(path, 'w');
  let bytes = 0;
  let lines = 0;
  try {
    while (bytes < SIZE) {
      let chunk = '';
      const t0 = START + Math.floor((bytes / SIZE) * HOURS * 3600);
      for (let i = 0; i < 20_000; i++) {
        const { ident } = table[r(table.length)]!;
        const status = statuses[r(statuses.length)]!;
        const out = status === 304 ? 180 + r(60) : status === 404 ? 400 + r(300) : 300 + r(r(8) === 0 ? 2_000_000 : 60_000);
        chunk += `${t0 + r(5)} ${ident} ${status} ${250 + r(r(10) === 0 ? 20_000 : 900)} ${out} ${tails.get(ident)![r(64)]}\n`;
      }
      bytes += writeSync(fd, chunk);
      lines += 20_000;
    }
  } finally {
    closeSync(fd);
  }
  return { lines, bytes };
}

interface Timed {
  /** Seconds: the best run, and the median. */
  best: number;
  median: number;
  result: RunResult;
}

async function time(label: string, times: number, step: () => Promise<RunResult>): Promise<Timed> {
  const seconds: number[] = [];
  let result: RunResult | undefined;
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    result = await step();
    seconds.push((performance.now() - t0) / 1000);
    if (result.exitCode !== 0) throw new Error(`${label} failed: ${result.stderr}`);
  }
  seconds.sort((a, b) => a - b);
  return { best: seconds[0]!, median: seconds[Math.floor(seconds.length / 2)]!, result: result! };
}

/**
 * What the machine gives several threads now: the same pure computation
 * on 1 thread, then on `threads` at once; the speedup is `threads` on an
 * idle machine, less when other work holds CPUs.
 */
async function parallelSpeedup(threads: number): Promise<number> {
  const spin = (): Promise<void> => new Promise((resolve, reject) => {
    const worker = new Worker('let x = 0; for (let i = 0; i < 2e8; i++) x = (x * 31 + i) | 0; require("node:worker_threads").parentPort.postMessage(x);', { eval: true });
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  const timed = async (n: number): Promise<number> => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, spin));
    return performance.now() - t0;
  };
  const one = await timed(1);
  return (one * threads) / (await timed(threads));
}

/** The process adapter, loaded by the bench only: `--sum`, which is timed, starts without it (so that nothing but the summing is measured). */
let run: typeof import('../src/adapters/exec.js').run;

/** mawk and goaccess are Debian packages; installed when missing. */
async function ensureTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const [tool, args] of [['mawk', ['-W', 'version']], ['goaccess', ['--version']]] as const) {
    if ((await run(tool, [...args], { reject: false })).exitCode === 127) missing.push(tool);
  }
  if (missing.length > 0) {
    console.log(`installing ${missing.join(', ')} (apt-get)...`);
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update'], { env, reject: false });
    const install = await run('apt-get', ['install', '-y', ...missing], { env, reject: false });
    if (install.exitCode !== 0) console.log(`apt-get install failed (${install.exitCode}): ${install.stderr.trim().split('\n').at(-1)}`);
  }
  const absent: string[] = [];
  for (const tool of ['mawk', 'goaccess']) if ((await run(tool, ['--version'], { reject: false })).exitCode === 127) absent.push(tool);
  return absent;
}

const sortLines = (text: string): string[] => text.trim().split('\n').filter(Boolean).sort();

async function bench(): Promise<void> {
  ({ run } = await import('../src/adapters/exec.js'));
  const dir = await mkdtemp(join(tmpdir(), 'magrathea-bench-accounting-'));
  try {
    const absent = await ensureTools();
    const file = join(dir, 'edge.log');
    const g0 = performance.now();
    const { lines, bytes } = generate(file);
    console.log(`generated ${(bytes / 1024 ** 3).toFixed(2)} GiB, ${lines.toLocaleString('en')} lines (${(bytes / lines).toFixed(0)} bytes average), 60 instances over ${HOURS} hours, in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
    const cpus = availableParallelism();
    console.log(`machine: ${cpus} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${Math.min(cpus, 8)} threads computing at once run ${(await parallelSpeedup(Math.min(cpus, 8))).toFixed(2)} x as fast as one`);

    await run('wc', ['-l', file]); // into the page cache
    // wc and ours in turns, so that both see the same moments of a busy machine.
    const wcRuns: Timed[] = [];
    const ourRuns: Timed[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      wcRuns.push(await time('wc -l', 1, () => run('wc', ['-l', file])));
      ourRuns.push(await time('ours', 1, () => run('node', [fileURLToPath(import.meta.url), '--sum', file], { reject: false })));
    }
    const combine = (runs: Timed[]): Timed => {
      const seconds = runs.map((r) => r.best).sort((a, b) => a - b);
      return { best: seconds[0]!, median: seconds[Math.floor(seconds.length / 2)]!, result: runs.at(-1)!.result };
    };
    const wc = combine(wcRuns);
    const ours = combine(ourRuns);
    const ratios = wcRuns.map((w, i) => w.best / ourRuns[i]!.best).sort((a, b) => a - b);
    const awk = absent.includes('mawk') ? undefined : await time('mawk', 2, () => run('mawk', [AWK, file], { reject: false }));
    const json = join(dir, 'goaccess.json');
    const goaccess = absent.includes('goaccess')
      ? undefined
      : await time('goaccess', 1, () => run('goaccess', [file, `--log-format=${GOACCESS_FORMAT}`, '--date-format=%s', '--time-format=%s', '--date-spec=hr',
          '--enable-panel=VIRTUAL_HOSTS', '--enable-panel=VISITORS', ...GOACCESS_IGNORED.map((p) => `--ignore-panel=${p}`), '--max-items=100000',
          '--no-progress', '-o', json], { env: { TZ: 'UTC' }, reject: false }));

    const gbps = (s: number): string => `${(bytes / s / 1e9).toFixed(2)} GB/s`;
    const row = (name: string, t: Timed, note = ''): string =>
      `  ${name.padEnd(22)} ${t.best.toFixed(2).padStart(7)} s ${`(${t.median.toFixed(2)})`.padStart(8)}  ${gbps(t.best).padStart(10)}  ${(wc.best / t.best).toFixed(2).padStart(5)} x wc -l  ${note}`;
    const wcRatio = wc.best / ours.best;
    const parsed = /parsed in (\d+) ms/.exec(ours.result.stderr)?.[1];
    console.log(`\nper-instance per-hour sums (requests, bytes in, bytes out, status classes); each tool a process of its own;`);
    console.log(`best of ${ROUNDS} (median), wc and magrathea in turns; mawk best of 2, goaccess 1 run:`);
    console.log(row('wc -l (floor)', wc));
    console.log(row(`magrathea (${/threads (\d+)/.exec(ours.result.stderr)?.[1] ?? '?'} threads)`, ours,
      `goal >= 0.50 x wc -l: ${wcRatio >= 0.5 ? 'met' : 'NOT met'}; per round ${ratios.map((r) => r.toFixed(2)).join(' ')}`));
    if (parsed) console.log(`  ${''.padEnd(22)} its last run: ${ourRuns.at(-1)!.best.toFixed(2)} s, of which summing the file (threads included) ${(Number(parsed) / 1000).toFixed(2)} s, the rest Node's start`);
    if (awk) console.log(row('mawk', awk, `magrathea = ${(awk.best / ours.best).toFixed(1)} x mawk, goal >= 7: ${awk.best / ours.best >= 7 ? 'met' : 'NOT met'}`));
    if (goaccess) console.log(row('goaccess (2 panels)', goaccess, `magrathea = ${(goaccess.best / ours.best).toFixed(0)} x goaccess`));
    for (const tool of absent) console.log(`  ${tool}: not installed, not measured`);
    console.log(`  (after: load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${Math.min(cpus, 8)} threads at once ${(await parallelSpeedup(Math.min(cpus, 8))).toFixed(2)} x as fast as one)`);

    const ourRows = sortLines(ours.result.stdout);
    if (awk) {
      const awkRows = sortLines(awk.result.stdout);
      const same = awkRows.length === ourRows.length && awkRows.every((line, i) => line === ourRows[i]);
      console.log(`\nresults: ${same ? 'identical to mawk\'s' : 'DIFFERENT from mawk\'s'} (${ourRows.length} instance-hour rows, ${STATUS_CLASSES.length} status classes each)`);
      if (!same) process.exitCode = 1;
    }
    if (goaccess) {
      const report = JSON.parse(await readFile(json, 'utf8')) as { vhosts?: { data: GoAccessItem[] }; visitors?: { data: GoAccessItem[] } };
      const perVhost = new Map<string, [number, number]>();
      const perHour = new Map<string, [number, number]>();
      for (const line of ourRows) {
        const [ident, hour, requests, , out] = line.split('\t');
        const key = new Date(Number(hour) * 3600_000).toISOString().replace(/[-:T]/g, '').slice(0, 10);
        for (const [map, k] of [[perVhost, ident!], [perHour, key]] as const) {
          const sum = map.get(k) ?? [0, 0];
          map.set(k, [sum[0] + Number(requests), sum[1] + Number(out)]);
        }
      }
      const compare = (items: GoAccessItem[] | undefined, ours: Map<string, [number, number]>): string => {
        if (!items) return 'missing from its report';
        const differ = items.filter((i) => { const o = ours.get(i.data); return !o || o[0] !== i.hits.count || o[1] !== i.bytes.count; }).length;
        return `${items.length} items, ${differ === 0 && items.length === ours.size ? 'hits and bytes out equal ours' : `${differ} differ from ours (ours: ${ours.size})`}`;
      };
      console.log(`goaccess: it sums per virtual host and, separately, per hour (--date-spec=hr), never per vhost and hour, and knows no bytes in:`);
      console.log(`  per vhost: ${compare(report.vhosts?.data, perVhost)}`);
      console.log(`  per hour:  ${compare(report.visitors?.data, perHour)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await (process.argv[2] === '--sum' ? sum(process.argv[3]!) : bench());

interface GoAccessItem {
  data: string;
  hits: { count: number };
  bytes: { count: number };
}
