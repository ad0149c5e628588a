/**
 * npm run bench:render — renders 100 apps on a 10-host cluster (8 web hosts,
 * a cache, a balancer): parse + validate + resolve every manifest, then
 * render every file of every host. For scale, the same run times the real
 * Varnish compiler on the VCL it produced (what every deploy pays anyway).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run } from '../src/adapters/exec.js';
import { validateGatewayConfig } from '../src/core/config/validate.js';
import { resolveInstance } from '../src/core/manifest/resolve.js';
import type { InstanceConfig } from '../src/core/manifest/types.js';
import { validateManifest } from '../src/core/manifest/validate.js';
import { renderCluster } from '../src/core/render/cluster.js';
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

function once(): { parse: number; render: number; files: number; bytes: number; instances: InstanceConfig[]; vcl: string } {
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
  const vcl = rendered.files.find((f) => f.path.endsWith('main.vcl'))!;
  return { parse: t1 - t0, render: t2 - t1, files: rendered.files.length, bytes: rendered.files.reduce((n, f) => n + f.content.length, 0), instances, vcl: vcl.content };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
once(); // warm up the JIT
const runs = Array.from({ length: ROUNDS }, once);
const parse = median(runs.map((r) => r.parse));
const render = median(runs.map((r) => r.render));
const { files, bytes } = runs[0]!;

// The same run's reference: varnishd -C on the produced VCL set.
const dir = await mkdtemp(join(tmpdir(), 'magrathea-bench-'));
await chmod(dir, 0o755); // varnishd compiles as its own user
let compile = NaN;
try {
  const rendered = renderCluster(cluster, runs[0]!.instances);
  if ('problems' in rendered) throw new Error('unexpected');
  await writeRendered(dir, 'big', rendered.files.filter((f) => f.service === 'varnish'));
  const main = join(dir, 'big', 'cache-1', cluster.paths.varnish, 'main.vcl');
  const t0 = performance.now();
  await run('varnishd', ['-C', '-n', join(dir, 'varnish-n'), '-f', main]);
  compile = performance.now() - t0;
} catch (e) {
  console.log(`varnishd -C reference not measured: ${(e as Error).message}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

const total = parse + render;
console.log(`render: ${APPS} apps x 10 hosts (8 web, 1 cache, 1 balancer), median of ${ROUNDS} runs`);
console.log(`  parse + validate + resolve  ${parse.toFixed(1)} ms`);
console.log(`  render ${files} files (${(bytes / 1024).toFixed(0)} KiB)  ${render.toFixed(1)} ms`);
console.log(`  total                       ${total.toFixed(1)} ms  (goal: well under 1000 ms)`);
if (!Number.isNaN(compile)) console.log(`  varnishd -C of the same VCL ${compile.toFixed(0)} ms  (render total = ${(total / compile).toFixed(2)} x one VCL compile)`);
