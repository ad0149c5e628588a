import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import type { GatewayConfig } from '../../src/core/config/types.js';
import { hostSshSettings } from '../../src/deployer/deploy.js';
import { deployCluster } from '../../src/deployer/deploy-cluster.js';
import { surveyCluster } from '../../src/deployer/doctor.js';
import { undeployCluster } from '../../src/deployer/undeploy-cluster.js';
import type { DeployState } from '../../src/deployer/types.js';
import { labDown } from '../../src/lab/down.js';
import type { LabStatus } from '../../src/lab/status.js';
import { labUp } from '../../src/lab/up.js';
import { curl } from '../helpers/curl.js';
import { openDeployHarness, type DeployHarness } from '../helpers/deploy-trees.js';
import { sshRun, useOwnLab } from '../helpers/lab.js';
import { runLabDir } from '../helpers/test-labs.js';

/**
 * The edge per instance, on a lab of its own (one cluster, two web hosts;
 * this suite restarts its Varnish): each app's VCL is compiled, loaded and
 * labelled on its own, and main.vcl hands each Host to its label. A deploy
 * of one app never changes what another serves.
 */
const APPS = ['edge-a', 'edge-b', 'edge-c'] as const;
const EDGE_HOST = 'a-edge';

let lab: LabStatus;
let config: GatewayConfig;
let harness: DeployHarness;
let state: DeployState;
/** The release each app serves, by app. */
const serving = new Map<string, string>();

/** Pages are cached for a minute, except the URLs that `pass` names. */
function manifest(pass: string[]): string {
  return [
    'stack: { php: "8.2", docroot: public }',
    'domains: ["${app}.edge.example.com"]',
    'health: { path: /health.php }',
    `cache: { ttl: 60s, pass: ${JSON.stringify(pass)} }`,
    'environments:',
    '  production: { branch: master, clusters: [cluster-a] }',
    '',
  ].join('\n');
}

async function deployApp(app: string, version: string, pass: string[] = []): Promise<{ ok: boolean; error?: string; release: string }> {
  const files = { 'public/health.php': '<?php echo "ok";', 'public/index.php': `<?php echo "${app} ${version}\\n";`, 'public/dyn.php': `<?php echo "${app} dyn ${version}\\n";` };
  const { result } = await harness.deployTree(app, files, manifest(pass));
  if (result.ok) serving.set(app, result.release);
  return { ok: result.ok, release: result.release, ...(result.clusters[0]?.error ? { error: result.clusters[0].error } : {}) };
}

const edge = () => lab.edges[0]!.url;
const domain = (app: string) => `${app}.edge.example.com`;

async function page(app: string, path = '/'): Promise<string> {
  const response = await curl(`${edge()}${path}`, domain(app));
  return `${response.status} ${response.body}`;
}

/** What each app serves through the edge. */
async function pages(): Promise<string[]> {
  return Promise.all(APPS.map((app) => page(app)));
}

interface Vcl {
  name: string;
  status: string;
  state: string;
  label?: { name: string };
}

/** The cache's VCLs and labels, as `vcl.list -j` lists them. */
async function vcls(): Promise<Vcl[]> {
  const { stdout } = await sshRun(lab, EDGE_HOST, ['varnishadm', 'vcl.list', '-j']);
  return (JSON.parse(stdout) as unknown[]).slice(3) as Vcl[];
}

/** label → the VCL it points at, for Magrathea's labels; and the active VCL. */
async function labels(): Promise<{ labels: Record<string, string>; active: string }> {
  const list = await vcls();
  const found = Object.fromEntries(list.filter((v) => v.state === 'label').map((v) => [v.name, v.label!.name]));
  return { labels: found, active: list.find((v) => v.status === 'active')!.name };
}

/** Whether a second request for `path` is a cache hit (X-Varnish names two transactions). */
async function cached(app: string, path: string): Promise<boolean> {
  await curl(`${edge()}${path}`, domain(app));
  const again = await curl(`${edge()}${path}`, domain(app));
  return /^\d+ \d+$/.test(again.headers['x-varnish'] ?? '');
}

beforeAll(async () => {
  lab = await useOwnLab('edge', { clusters: 1, webHosts: 2 }, [197, 199, 196, 198]);
  harness = await openDeployHarness(lab.config, 'edge-test');
  ({ config, state } = harness);
}, 180_000);

afterAll(async () => {
  await harness?.close();
  await labDown({ dir: runLabDir('edge'), purge: true });
}, 120_000);

describe('one VCL per instance, behind labels', () => {
  it('three apps on one cluster: each gets its own VCL and label, main.vcl routes their hosts', async () => {
    // Each first deploy compiles its own VCL only: the apps deployed before keep the VCL their label points at.
    let before: Record<string, string> = {};
    for (const app of APPS) {
      expect(await deployApp(app, 'v1')).toMatchObject({ ok: true });
      const now = (await labels()).labels;
      for (const [label, vcl] of Object.entries(before)) expect(`${label} -> ${now[label]}`).toBe(`${label} -> ${vcl}`);
      before = now;
    }
    expect(await pages()).toEqual(APPS.map((app) => `200 ${app} v1\n`));
    const { labels: found, active } = await labels();
    for (const app of APPS) expect(found[`magrathea_label_${app}_production`]).toMatch(new RegExp(`^magrathea_app_${app}_production_\\d+$`));
    expect(active).toMatch(/^magrathea_main_\d+$/);
    expect((await curl(edge(), 'nobody.edge.example.com')).status).toBe(404);
  }, 300_000);

  it('a VCL error in one app fails its deploy only, naming the host and its file; the other two keep serving, their VCLs untouched', async () => {
    const before = await labels();
    // A lookbehind of variable length: JavaScript accepts it, Varnish's PCRE2 does not.
    const broken = await deployApp('edge-b', 'v2', ['(?<=a+)b']);
    expect(broken.ok).toBe(false);
    expect(broken.error).toMatch(/^cluster-a: a-edge: check: varnish check failed: .*apps\/edge-b\.production\.vcl/);
    expect(await pages()).toEqual(APPS.map((app) => `200 ${app} v1\n`));
    expect(await labels()).toEqual(before);

    // A good redeploy of edge-b compiles and loads edge-b's VCL alone: the others' VCLs and main.vcl stay loaded as they were.
    expect(await deployApp('edge-b', 'v3', ['^/dyn'])).toMatchObject({ ok: true });
    const after = await labels();
    expect(after.active).toBe(before.active);
    for (const app of ['edge-a', 'edge-c']) expect(after.labels[`magrathea_label_${app}_production`]).toBe(before.labels[`magrathea_label_${app}_production`]);
    expect(after.labels['magrathea_label_edge-b_production']).not.toBe(before.labels['magrathea_label_edge-b_production']);
    expect(await pages()).toEqual(['200 edge-a v1\n', '200 edge-b v3\n', '200 edge-c v1\n']);
    // The VCL that served edge-b before is discarded: one VCL per instance stays loaded.
    expect((await vcls()).filter((v) => v.name.startsWith('magrathea_app_edge-b_'))).toHaveLength(1);
  }, 300_000);

  it('a rollback brings the instance\'s previous VCL back', async () => {
    const v1 = serving.get('edge-c')!;
    expect(await cached('edge-c', '/dyn.php')).toBe(true);
    expect(await deployApp('edge-c', 'v2', ['^/dyn'])).toMatchObject({ ok: true });
    expect(await cached('edge-c', '/dyn.php')).toBe(false);
    const instance = await state.releaseInstance('edge-c', 'production', v1, 'cluster-a');
    const outcome = await deployCluster({ cluster: config.clusters['cluster-a']!, instance: instance!, release: v1, runHook: false, keepReleases: 5, ssh: hostSshSettings(config), state, log: () => undefined });
    expect(outcome).toMatchObject({ status: 'live', serving: v1 });
    expect(await page('edge-c')).toBe('200 edge-c v1\n');
    expect(await cached('edge-c', '/dyn.php')).toBe(true);
    expect((await sshRun(lab, EDGE_HOST, ['cat', '/etc/varnish/magrathea/apps/edge-c.production.vcl'])).stdout).not.toContain('^/dyn');
  }, 300_000);

  it('Varnish restarted on the cache host gets every label back, as the last deploys left them', async () => {
    const pid = (await readFile(join(lab.dir, 'hosts', EDGE_HOST, 'fs/run/varnishd.pid'), 'utf8')).trim();
    expect(pid).toMatch(/^\d+$/);
    await run('kill', [pid]);
    try {
      // The manager stops its child and exits; the lab starts what is down again.
      for (let i = 0; i < 100 && (await run('kill', ['-0', pid], { reject: false })).exitCode === 0; i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await labUp({ dir: lab.dir, shape: lab.shape });
    }
    const { labels: found, active } = await labels();
    expect(active).toBe('magrathea_main_boot');
    expect(Object.keys(found).sort()).toEqual(APPS.map((app) => `magrathea_label_${app}_production`));
    expect(await pages()).toEqual(['200 edge-a v1\n', '200 edge-b v3\n', '200 edge-c v1\n']);
    // edge-b's rules came back with it: /dyn is passed, not cached.
    expect(await cached('edge-b', '/dyn.php')).toBe(false);
    // And a deploy after the restart loads its own VCL only.
    expect(await deployApp('edge-a', 'v2')).toMatchObject({ ok: true });
    expect((await labels()).labels['magrathea_label_edge-c_production']).toBe('magrathea_app_edge-c_production_boot');
    expect(await pages()).toEqual(['200 edge-a v2\n', '200 edge-b v3\n', '200 edge-c v1\n']);
  }, 300_000);

  it('undeploying an app removes its VCL file, its label and its VCLs; the others keep serving', async () => {
    const instance = (await state.clusterInstances('cluster-a')).find((i) => i.app === 'edge-a')!;
    await undeployCluster({ cluster: config.clusters['cluster-a']!, instances: [instance], ssh: hostSshSettings(config), state, log: () => undefined });
    const list = await vcls();
    expect(list.filter((v) => v.name.includes('edge-a') && v.status !== 'discarded')).toEqual([]);
    // A VCL still busy with requests is marked discarded, and freed once they end.
    expect(list.filter((v) => v.name.startsWith('magrathea_main_') && v.status !== 'discarded')).toHaveLength(1);
    expect((await sshRun(lab, EDGE_HOST, ['test', '-e', '/etc/varnish/magrathea/apps/edge-a.production.vcl'], { reject: false })).exitCode).not.toBe(0);
    expect((await sshRun(lab, EDGE_HOST, ['cat', '/etc/varnish/magrathea/boot.cli'])).stdout).not.toContain('edge-a');
    expect(await pages()).toEqual(['404 No app serves this host.', '200 edge-b v3\n', '200 edge-c v1\n']);
  }, 300_000);
});

describe('a cache whose cli_limit is below its list of VCLs', () => {
  it('deploys anyway: the list, cut at the limit, is asked again with the limit raised to 16M', async () => {
    await sshRun(lab, EDGE_HOST, ['varnishadm', 'param.set', 'cli_limit', '512b']);
    try {
      const cut = await sshRun(lab, EDGE_HOST, ['varnishadm', 'vcl.list', '-j'], { reject: false });
      expect(cut.stdout).toContain('[response was truncated]');
      expect(await deployApp('edge-a', 'v9')).toMatchObject({ ok: true });
      expect(await page('edge-a')).toBe('200 edge-a v9\n');
      expect((await sshRun(lab, EDGE_HOST, ['varnishadm', 'param.show', 'cli_limit'])).stdout).toMatch(/Value is: 16M/);
    } finally {
      await sshRun(lab, EDGE_HOST, ['varnishadm', 'param.set', 'cli_limit', '48k']);
    }
  }, 120_000);
});

describe('doctor', () => {
  const survey = () => surveyCluster(config.clusters['cluster-a']!, state, hostSshSettings(config));
  const paths = () => config.clusters['cluster-a']!.paths;

  it('finds every host as deployed; then names each hand edit, removed file, planted file and moved current link with its host', async () => {
    const clean = await survey();
    expect({ drift: clean.drift, unreachable: clean.unreachable }).toEqual({ drift: [], unreachable: {} });
    expect(clean.instances).toBeGreaterThan(0);
    const live = (await state.clusterInstances('cluster-a')).map((i) => i.app).sort();
    const app = live[0]!;
    const vhost = `${paths().apache}/${app}.production.conf`;
    const map = `${paths().haproxy}/hosts.map`;
    const planted = `${paths().haproxy}/zz-left.cfg`;
    const root = `${paths().apps}/${app}/production`;
    const saved = { vhost: (await sshRun(lab, 'a-web-1', ['cat', vhost])).stdout, map: (await sshRun(lab, EDGE_HOST, ['cat', map])).stdout, current: (await sshRun(lab, 'a-web-2', ['readlink', `${root}/current`])).stdout.trim() };
    try {
      await sshRun(lab, 'a-web-1', ['sh', '-c', 'echo "# a hand edit" >> "$1"', 'sh', vhost]);
      await sshRun(lab, EDGE_HOST, ['rm', map]);
      await sshRun(lab, EDGE_HOST, ['sh', '-c', 'echo "backend old" > "$1"', 'sh', planted]);
      await sshRun(lab, 'a-web-2', ['rm', `${root}/current`]);
      const found = await survey();
      expect(found.drift.map((d) => [d.host, d.kind, d.path, d.instance])).toEqual([
        [EDGE_HOST, 'missing', map, undefined],
        [EDGE_HOST, 'unknown', planted, undefined],
        ['a-web-1', 'changed', vhost, `${app}.production`],
        ['a-web-2', 'current', root, `${app}.production`],
      ]);
      expect(found.drift.find((d) => d.kind === 'current')!.detail).toBe(`current is missing, the gateway recorded ${saved.current}`);
    } finally {
      await sshRun(lab, 'a-web-1', ['sh', '-c', 'cat > "$1"', 'sh', vhost], { input: saved.vhost });
      await sshRun(lab, EDGE_HOST, ['sh', '-c', 'cat > "$1"; rm -f "$2"', 'sh', map, planted], { input: saved.map });
      await sshRun(lab, 'a-web-2', ['ln', '-sfn', saved.current, `${root}/current`]);
    }
    expect((await survey()).drift).toEqual([]);
  }, 120_000);
});
