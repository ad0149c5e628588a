/**
 * npm run bench:render — renders 100 apps on a 10-host cluster (8 web hosts,
 * a cache, a balancer): parse + validate + resolve every manifest, then
 * render every file of every host. The same run times the real Varnish
 * compiler on one instance's VCL (what a deploy compiles) against the whole
 * cluster's single VCL that deploys compiled before labels, and haproxy -c
 * of the balancer's files with 100 backends against one.
 */
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run } from '../src/adapters/exec.js';
import { validateGatewayConfig } from '../src/core/config/validate.js';
import { resolveInstance } from '../src/core/manifest/resolve.js';
import type { InstanceConfig } from '../src/core/manifest/types.js';
import { validateManifest } from '../src/core/manifest/validate.js';
import { renderCluster } from '../src/core/render/cluster.js';
import { instanceId } from '../src/core/render/names.js';
import { instanceVclPath, renderAppVclBody } from '../src/core/render/varnish.js';
import { formatProblem } from '../src/core/source.js';
import { writeRendered } from '../src/host-config/write.js';

const APPS = 100;
const ROUNDS = 20;

const hosts = [
  ...Array.from({ length: 8 }, (_, i) => `    web-${i + 1}: { address: 127.0.9.${i + 1}, roles: [web] }`),
  '    cache-1: { address: 127.0.9.20, roles: [cache] }',
  '    lb-1: { address: 127.0.9.30, roles: [balancer] }',
];
const gateway = validateGatewayConfig('/bench', { 'clusters.yml': `big:\n  hosts:\n${hosts.join('\n')}\n` });
if ('problems' in gateway) throw new Error(gateway.problems.map(formatProblem).join('\n'));
const cluster = gateway.config.clusters.big!;

const manifests = Array.from(
  { length: APPS },
  (_, i) => `stack: { php: "8.2", docroot: public }
domains: ["\${app}.example.com", "www.\${app}.example.com"]
env: { APP_ENV: production, N: "${i}", NODE: "\${host}", SECRET: "s3cr'et\\"${i}" }
shared: [storage, public/uploads]
build: ["composer install --no-dev"]
hooks: { release: "php artisan migrate --force" }
cache: { ttl: 120s, pass: ["^/admin", "^/api/"] }
health: { path: /health, status: 200 }
environments:
  production: { branch: master, clusters: [big] }
`,
);

function once(): { parse: number; render: number; files: number; bytes: number; instances: InstanceConfig[] } {
  const t0 = performance.now();
  const instances = manifests.map((text, i) => {
    const parsed = validateManifest(text, `app-${i}/magrathea.yml`);
    if ('problems' in parsed) throw new Error(parsed.problems.map(formatProblem).join('\n'));
    const result = resolveInstance(parsed.manifest, { app: `app-${i}`, env: 'production', cluster: 'big' });
    if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
    return result.instance;
  });
  const t1 = performance.now();
  const rendered = renderCluster(cluster, instances);
  const t2 = performance.now();
  if ('problems' in rendered) throw new Error(rendered.problems.map(formatProblem).join('\n'));
  return { parse: t1 - t0, render: t2 - t1, files: rendered.files.length, bytes: rendered.files.reduce((n, f) => n + f.content.length, 0), instances };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
once(); // warm up the JIT
const runs = Array.from({ length: ROUNDS }, once);
const parse = median(runs.map((r) => r.parse));
const render = median(runs.map((r) => r.render));
const { files, bytes } = runs[0]!;

/**
 * The single VCL of the whole cluster that every deploy compiled before
 * each instance got a VCL and a label of its own: every instance's rules
 * in one file, then the 404 for other hosts. The reference of the ratio.
 */
function wholeClusterVcl(instances: InstanceConfig[]): string {
  return [
    'vcl 4.1;',
    'import std;',
    'import directors;',
    'backend magrathea_none none;',
    'sub vcl_recv {',
    '    unset req.http.X-Magrathea-Instance;',
    '    set req.http.host = std.tolower(regsub(req.http.host, ":[0-9]+$", ""));',
    '}',
    ...instances.map((i) => renderAppVclBody(cluster, i)),
    'sub vcl_recv {',
    '    if (!req.http.X-Magrathea-Instance) {',
    '        return (synth(404, "No app serves this host"));',
    '    }',
    '}',
    '',
  ].join('\n');
}

/** Milliseconds `argv` takes, median of `times` runs. */
async function timed(argv: string[], times: number): Promise<number> {
  const runs: number[] = [];
  for (let n = 0; n < times; n++) {
    const t0 = performance.now();
    await run(argv[0]!, argv.slice(1));
    runs.push(performance.now() - t0);
  }
  return median(runs);
}

// The same run's compile figures: varnishd -C of one instance's VCL (what a deploy compiles
// now) against the whole cluster's single VCL (what it compiled before); haproxy -c of the
// cluster's 100 backends against one (HAProxy has no per-backend check: the cost of its step).
const dir = await mkdtemp(join(tmpdir(), 'magrathea-bench-'));
await chmod(dir, 0o755); // varnishd compiles as its own user
let compile: { one: number; whole: number } | undefined;
let haproxy: { all: number; one: number } | undefined;
try {
  const { instances } = runs[0]!;
  const rendered = renderCluster(cluster, instances);
  if ('problems' in rendered) throw new Error('unexpected');
  await writeRendered(dir, 'big', rendered.files.filter((f) => f.service === 'varnish' || f.service === 'haproxy'));
  const edge = (host: string, path: string) => join(dir, 'big', host, path);
  const whole = join(dir, 'whole.vcl');
  await writeFile(whole, wholeClusterVcl(instances), { mode: 0o644 });
  const one = edge('cache-1', instanceVclPath(cluster.paths.varnish, instances[APPS / 2]!));
  compile = {
    one: await timed(['varnishd', '-C', '-n', join(dir, 'varnish-n'), '-f', one], 3),
    whole: await timed(['varnishd', '-C', '-n', join(dir, 'varnish-n'), '-f', whole], 1),
  };
  const global = join(dir, 'haproxy.cfg');
  await writeFile(global, 'global\n    maxconn 100\n');
  const single = join(dir, 'haproxy-one');
  const balancer = edge('lb-1', cluster.paths.haproxy);
  await mkdir(single);
  for (const name of ['hosts.map', `${instanceId(instances[0]!)}.cfg`]) await copyFile(join(balancer, name), join(single, name));
  // The frontend names the map at its path on the host: here, each directory's own.
  const frontend = await readFile(join(balancer, '00-magrathea.cfg'), 'utf8');
  for (const d of [balancer, single]) await writeFile(join(d, '00-magrathea.cfg'), frontend.replaceAll(`${cluster.paths.haproxy}/hosts.map`, join(d, 'hosts.map')));
  haproxy = { all: await timed(['haproxy', '-c', '-q', '-f', global, '-f', balancer], 3), one: await timed(['haproxy', '-c', '-q', '-f', global, '-f', single], 3) };
} catch (e) {
  console.log(`compile figures not measured: ${(e as Error).message}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

const total = parse + render;
console.log(`render: ${APPS} apps x 10 hosts (8 web, 1 cache, 1 balancer), median of ${ROUNDS} runs`);
console.log(`  parse + validate + resolve  ${parse.toFixed(1)} ms`);
console.log(`  render ${files} files (${(bytes / 1024).toFixed(0)} KiB)  ${render.toFixed(1)} ms`);
console.log(`  total                       ${total.toFixed(1)} ms  (goal: well under 1000 ms)`);
if (compile) {
  console.log(`varnishd -C on the same ${APPS}-app cluster, same run:`);
  console.log(`  one instance's VCL (what a deploy compiles)      ${compile.one.toFixed(0)} ms  (median of 3)`);
  console.log(`  the whole cluster's single VCL (before labels)   ${compile.whole.toFixed(0)} ms`);
  console.log(`  one instance / whole cluster                     ${(compile.one / compile.whole).toFixed(3)}  (${(compile.whole / compile.one).toFixed(1)}x faster)`);
}
if (haproxy) {
  console.log(`haproxy -c of the balancer's files, same run (median of 3):`);
  console.log(`  ${APPS} backends  ${haproxy.all.toFixed(0)} ms;  1 backend  ${haproxy.one.toFixed(0)} ms  (ratio ${(haproxy.all / haproxy.one).toFixed(2)})`);
}
