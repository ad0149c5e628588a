import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { buildRelease, exportTree } from '../../src/builder/build-release.js';
import type { GatewayConfig } from '../../src/core/config/types.js';
import { deploy } from '../../src/deployer/deploy.js';
import type { DeployOutcome, DeployState } from '../../src/deployer/types.js';
import { labDown } from '../../src/lab/down.js';
import type { LabStatus } from '../../src/lab/status.js';
import { readApp } from '../../src/builder/manifest.js';
import { sshRun, useOwnLab } from '../helpers/lab.js';
import { openDeployHarness, type DeployHarness } from '../helpers/deploy-trees.js';

/**
 * PHP sessions on a cluster of two web hosts, through the edge: cluster-a
 * keeps them in its store (the lab's Redis on its edge host), so requests
 * go round robin; cluster-b is given no store (taken out of the lab's
 * configuration), so each browser is pinned to the web host that served
 * it first. A lab of its own: its configuration is changed.
 */
const APP = 'sesscount';
let lab: LabStatus;
let config: GatewayConfig;
let harness: DeployHarness;
let state: DeployState;
let work: string;
const lines: string[] = [];
let result: DeployOutcome;

const MANIFEST = `stack: { php: "8.2", docroot: public }
domains: ["\${app}.example.com"]
env: { SERVED_BY: "\${host}" }
environments:
  production: { branch: master, clusters: [cluster-a, cluster-b] }
`;

const COUNTER = `<?php
session_start();
$_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
header('Content-Type: text/plain');
echo $_SESSION['n'], ' served by ', getenv('SERVED_BY'), "\\n";
`;

beforeAll(async () => {
  lab = await useOwnLab('sessions', { clusters: 2, webHosts: 2 }, [171, 173, 175]);
  harness = await openDeployHarness(lab.config, 'sessions-test');
  ({ config, state, work } = harness);
  delete config.clusters['cluster-b']!.sessions;
  const repo = join(work, APP);
  await mkdir(join(repo, 'public'), { recursive: true });
  await writeFile(join(repo, 'magrathea.yml'), MANIFEST);
  await writeFile(join(repo, 'public/index.php'), '<?php header("Cache-Control: public, max-age=60"); echo "ok\\n";\n');
  await writeFile(join(repo, 'public/count.php'), COUNTER);
  await writeFile(join(repo, 'public/cookies.php'), '<?php header("Cache-Control: no-store"); echo implode(",", array_keys($_COOKIE)), "\\n";\n');
  await run('git', ['init', '-q', '-b', 'master', repo]);
  await run('git', ['-C', repo, 'add', '-A']);
  await run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'counter']);
  const head = (await run('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout.trim();
  const tree = join(work, 'tree');
  await exportTree(repo, head, tree, `${repo}.checkout`);
  const built = await buildRelease({ tree, commit: head, workspace: join(work, 'build'), commands: [] });
  const app = await readApp(repo, APP);
  result = await deploy({ app: APP, env: 'production', release: 'r1', manifest: app.manifest, source: built.dir }, { config, state, log: (l) => lines.push(l) });
}, 180_000);

afterAll(async () => {
  await harness?.close();
  if (lab) await labDown({ dir: lab.dir, purge: true });
}, 60_000);

function edge(cluster: string): string {
  return lab.edges.find((e) => e.cluster === cluster)!.url;
}

/** One browser: a cookie jar of its own, `n` requests to the counter. Returns each answer's count and web host. */
async function browse(cluster: string, n: number): Promise<{ counts: number[]; hosts: string[]; ms: number }> {
  const jar = join(work, `jar-${cluster}-${Date.now()}`);
  const counts: number[] = [];
  const hosts: string[] = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const { stdout } = await run('curl', ['-s', '-S', '--max-time', '30', '-c', jar, '-b', jar, '-H', `Host: ${APP}.example.com`, `${edge(cluster)}/count.php`]);
    const match = /^(\d+) served by (\S+)\n$/.exec(stdout);
    if (!match) throw new Error(`unexpected answer from ${cluster}: ${stdout}`);
    counts.push(Number(match[1]));
    hosts.push(match[2]!);
  }
  return { counts, hosts, ms: (performance.now() - started) / n };
}

const ONE_TO_TEN = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

describe('sessions shared by a cluster', () => {
  it('deploys to both clusters, and warns once, for the cluster without a store only', () => {
    expect(result.ok).toBe(true);
    const warnings = lines.filter((l) => l.includes('warning: no session store'));
    expect(warnings).toEqual([expect.stringMatching(/^cluster-b: warning: no session store: PHP sessions are files on each web host, so each browser is pinned to one/)]);
    // The app uses sessions: the push also points it to the guide, for that cluster only.
    expect(lines.filter((l) => l.startsWith('advice: ') && l.includes('session store'))).toEqual([expect.stringMatching(/^advice: cluster-b has 2 web hosts and no session store declared: .*#sessions\)$/)]);
  });

  it('with a store: a session counter through the edge counts 1..10 while requests alternate between the web hosts', async () => {
    const { counts, hosts, ms } = await browse('cluster-a', 10);
    expect(counts).toEqual(ONE_TO_TEN);
    expect(new Set(hosts)).toEqual(new Set(['a-web-1', 'a-web-2']));
    for (let i = 1; i < hosts.length; i++) expect(hosts[i]).not.toBe(hosts[i - 1]);
    process.stdout.write(`session store: ${ms.toFixed(1)} ms a request through the edge\n`);
  });

  it('with a store: the session is in the store, under the instance prefix, and the instance has its own ACL user there', async () => {
    const store = config.clusters['cluster-a']!.sessions!;
    const admin = (argv: string[]) =>
      sshRun(lab, store.host, ['sh', '-c', 'REDISCLI_AUTH=$(cat "$1") exec redis-cli --no-auth-warning -h "$2" -p "$3"', 'sh', store.passwordFile, store.address, String(store.port)], { input: `${argv.join(' ')}\n` });
    // Its own keys, the session handler's commands, no channel: nothing more.
    const user = /^user magrathea\.sesscount\.production on (?:sanitize-payload )?#[0-9a-f]{64} ~magrathea:sesscount\.production:\* resetchannels -@all (.*)$/m.exec((await admin(['ACL', 'LIST'])).stdout);
    expect(user?.[1]?.split(' ').sort()).toEqual(['+del', '+exists', '+expire', '+get', '+setex']);
    expect(Number((await admin(['EVAL', `"return #redis.call('KEYS', ARGV[1])"`, '0', `magrathea:${APP}.production:*`])).stdout.trim())).toBeGreaterThan(0);
    // The pool holds the password; root alone reads it.
    const pool = await sshRun(lab, 'a-web-1', ['stat', '-c', '%a %U', `/etc/php/8.2/fpm/pool.d/magrathea-${APP}.production.conf`]);
    expect(pool.stdout.trim()).toBe('600 root');
  });

  it('without a store: each browser stays on one web host and its counter counts 1..10', async () => {
    const first = await browse('cluster-b', 10);
    expect(first.counts).toEqual(ONE_TO_TEN);
    expect(new Set(first.hosts).size).toBe(1);
    // Another browser is free to land on the other host: the pin is per browser, not for everyone.
    const seen = new Set(first.hosts);
    for (let i = 0; i < 4 && seen.size < 2; i++) {
      const other = await browse('cluster-b', 3);
      expect(other.counts).toEqual([1, 2, 3]);
      expect(new Set(other.hosts).size).toBe(1);
      seen.add(other.hosts[0]!);
    }
    expect(seen).toEqual(new Set(['b-web-1', 'b-web-2']));
    process.stdout.write(`file sessions (pinned): ${first.ms.toFixed(1)} ms a request through the edge\n`);
  });

  it('without a store: the pinning cookie never reaches the app, and a page without a session stays cacheable', async () => {
    const jar = join(work, 'jar-probe');
    const get = (path: string) => run('curl', ['-s', '-i', '-c', jar, '-b', jar, '-H', `Host: ${APP}.example.com`, `${edge('cluster-b')}${path}`]);
    // index.php starts no session and may be cached: the first answer (a miss) pins the browser, the second is a hit all the same.
    const first = (await get('/?pin')).stdout;
    expect(first).toMatch(/^set-cookie: magrathea_web=b-web-[12]; Path=\/; HttpOnly; SameSite=Lax\r$/im);
    const hit = (await get('/?pin')).stdout;
    expect(hit).toMatch(/^x-varnish: \d+ \d+\r$/im);
    expect(hit).not.toMatch(/^(x-magrathea-web|set-cookie)/im);
    await get('/count.php');
    expect((await get('/cookies.php')).stdout).toMatch(/\r\n\r\nPHPSESSID\n$/);
  });
});
