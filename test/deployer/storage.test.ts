import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { GatewayConfig } from '../../src/core/config/types.js';
import { unixId, unixUser } from '../../src/core/render/names.js';
import { hostSshSettings } from '../../src/deployer/deploy.js';
import { deployCluster } from '../../src/deployer/deploy-cluster.js';
import { undeployCluster } from '../../src/deployer/undeploy-cluster.js';
import type { DeployOutcome, DeployState } from '../../src/deployer/types.js';
import { LAB_STORAGE } from '../../src/lab/plan.js';
import type { LabStatus } from '../../src/lab/status.js';
import { curl } from '../helpers/curl.js';
import { openDeployHarness, type DeployHarness } from '../helpers/deploy-trees.js';
import { sshRun, useLab } from '../helpers/lab.js';

/**
 * Shared dirs on a cluster's storage, on the lab (each cluster's web hosts
 * mount one directory of the lab at /srv/magrathea): a file written through
 * the edge is the same on every web host, across deploys and rollbacks, and
 * out of other apps' reach. The trees go to deploy() as built releases would.
 */
const APP = 'stor-wiki';
const OTHER = 'stor-other';
const DOMAIN = (app: string) => `${app}.stor.example.com`;

let lab: LabStatus;
let config: GatewayConfig;
let harness: DeployHarness;
let state: DeployState;

function manifest(clusters: string, extra = ''): string {
  return [
    'stack: { php: "8.2", docroot: public }',
    'domains: ["${app}.stor.example.com"]',
    'health: { path: /health.php }',
    'environments:',
    `  production: { branch: master, clusters: [${clusters}] }`,
    extra,
  ].join('\n');
}

function deployTree(app: string, files: Record<string, string>, yaml: string, gateway = config): Promise<{ result: DeployOutcome; lines: string[] }> {
  return harness.deployTree(app, { 'public/health.php': '<?php echo "ok";', ...files }, yaml, { gateway });
}

const wiki = (version: string): Record<string, string> => ({
  'public/save.php': '<?php file_put_contents(__DIR__ . "/../storage/notes.txt", $_GET["text"] . "\\n", FILE_APPEND); echo "saved on ", gethostname(), "\\n";',
  'public/read.php': `<?php echo "${version} on ", gethostname(), ": ", file_get_contents(__DIR__ . "/../storage/notes.txt");`,
  'storage/notes.txt': 'seeded\n',
});

const edge = (cluster: string) => lab.edges.find((e) => e.cluster === cluster)!.url;
const webHosts = (cluster: string) => lab.hosts.filter((h) => h.cluster === cluster && h.roles.includes('web'));

/** read.php asked of each web host of the cluster directly, by its own address. */
async function readEveryHost(cluster: string): Promise<string[]> {
  const pages: string[] = [];
  for (const host of webHosts(cluster)) {
    const page = await curl(`http://${host.address}/read.php`, DOMAIN(APP));
    pages.push(`${page.status} ${page.body}`);
  }
  return pages;
}

beforeAll(async () => {
  lab = await useLab();
  harness = await openDeployHarness(lab.config, 'storage-test');
  ({ config, state } = harness);
}, 120_000);

afterAll(async () => {
  await harness?.close();
});

describe('shared dirs on cluster storage', () => {
  it('the lab mounts one directory per cluster on its web hosts, nosuid,nodev, and its config declares it', async () => {
    expect(config.clusters['cluster-a']!.storage).toBe(LAB_STORAGE);
    for (const host of webHosts('cluster-a')) {
      const mount = await sshRun(lab, host.name, ['findmnt', '-n', '-o', 'OPTIONS', LAB_STORAGE]);
      expect(mount.stdout).toMatch(/\bnosuid\b/);
      expect(mount.stdout).toMatch(/\bnodev\b/);
    }
    // The edge has none: only web hosts serve files.
    expect((await sshRun(lab, 'a-edge', ['mountpoint', '-q', LAB_STORAGE], { reject: false })).exitCode).not.toBe(0);
  });

  it('a file written through the edge is read back through every web host', async () => {
    const { result, lines } = await deployTree(APP, wiki('v1'), manifest('cluster-a', 'shared: [storage]'));
    expect(result.clusters[0]).toMatchObject({ status: 'live' });
    expect(lines.filter((l) => /^warning:/.test(l))).toEqual([]);
    // Seeded once from the release.
    expect(await readEveryHost('cluster-a')).toEqual(webHosts('cluster-a').map((h) => `200 v1 on ${h.name}: seeded\n`));
    const savedOn = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const saved = await curl(`${edge('cluster-a')}/save.php?text=note-${i}`, DOMAIN(APP));
      expect(saved.status).toBe(200);
      savedOn.add(/saved on (\S+)/.exec(saved.body)![1]!);
    }
    // Both hosts took writes, and both read all of them.
    expect([...savedOn].sort()).toEqual(webHosts('cluster-a').map((h) => h.name));
    const all = 'seeded\nnote-0\nnote-1\nnote-2\nnote-3\n';
    expect(await readEveryHost('cluster-a')).toEqual(webHosts('cluster-a').map((h) => `200 v1 on ${h.name}: ${all}`));
  });

  it('lives once on the storage, owned by the instance\'s user with one uid on every host, outside the release', async () => {
    const user = unixUser({ app: APP, env: 'production' });
    const uid = unixId({ app: APP, env: 'production' });
    const dir = `${LAB_STORAGE}/${APP}/production`;
    for (const host of webHosts('cluster-a')) {
      expect((await sshRun(lab, host.name, ['id', '-u', user])).stdout.trim()).toBe(String(uid));
      expect((await sshRun(lab, host.name, ['getent', 'group', user])).stdout).toContain(`:${uid}:`);
      expect((await sshRun(lab, host.name, ['readlink', `/var/www/magrathea/${APP}/production/current/storage`])).stdout.trim()).toBe(`${dir}/storage`);
      expect((await sshRun(lab, host.name, ['stat', '-c', '%U:%G:%a', `${LAB_STORAGE}/${APP}`, dir, `${dir}/storage/notes.txt`])).stdout.trim().split('\n')).toEqual([
        'root:root:711',
        `${user}:${user}:750`,
        expect.stringMatching(new RegExp(`^${user}:${user}:6[046]{2}$`)),
      ]);
    }
    // The lab's directory for cluster-a holds the one copy, numbered as on the hosts.
    const file = await stat(join(lab.dir, 'storage', 'cluster-a', APP, 'production', 'storage', 'notes.txt'));
    expect(file.uid).toBe(uid);
    const pool = await sshRun(lab, 'a-web-1', ['cat', `/etc/php/8.2/fpm/pool.d/magrathea-${APP}.production.conf`]);
    expect(pool.stdout).toContain(`php_admin_value[open_basedir] = /var/www/magrathea/${APP}/production/:${dir}/:/usr/share/php/:/dev/urandom\n`);
  });

  it('survives a redeploy and a rollback', async () => {
    const before = await state.hostReleases(APP, 'production', 'cluster-a');
    const { result } = await deployTree(APP, { ...wiki('v2'), 'storage/notes.txt': 'a new seed, never used\n' }, manifest('cluster-a', 'shared: [storage]'));
    expect(result.clusters[0]).toMatchObject({ status: 'live' });
    await curl(`${edge('cluster-a')}/save.php?text=after-redeploy`, DOMAIN(APP));
    const all = 'seeded\nnote-0\nnote-1\nnote-2\nnote-3\nafter-redeploy\n';
    expect(await readEveryHost('cluster-a')).toEqual(webHosts('cluster-a').map((h) => `200 v2 on ${h.name}: ${all}`));

    const target = before['a-web-1']!;
    const instance = (await state.releaseInstance(APP, 'production', target, 'cluster-a'))!;
    const back = await deployCluster({ cluster: config.clusters['cluster-a']!, instance, release: target, runHook: false, keepReleases: 5, ssh: hostSshSettings(config), state, log: () => undefined });
    expect(back).toMatchObject({ status: 'live', serving: target });
    expect(await readEveryHost('cluster-a')).toEqual(webHosts('cluster-a').map((h) => `200 v1 on ${h.name}: ${all}`));
  }, 120_000);

  it('another app on the same hosts cannot read it, from PHP or as its unix user', async () => {
    const target = `${LAB_STORAGE}/${APP}/production/storage/notes.txt`;
    const probe = `<?php $r = @file_get_contents(${JSON.stringify(target)}); echo $r === false ? "DENIED" : "READ $r", "\\n";`;
    const { result } = await deployTree(OTHER, { 'public/probe.php': probe }, manifest('cluster-a', 'shared: [files]'));
    expect(result.clusters[0]).toMatchObject({ status: 'live' });
    for (let i = 0; i < 2; i++) expect(await curl(`${edge('cluster-a')}/probe.php?${i}`, DOMAIN(OTHER))).toMatchObject({ status: 200, body: 'DENIED\n' });
    const user = unixUser({ app: OTHER, env: 'production' });
    for (const host of webHosts('cluster-a')) {
      const read = await sshRun(lab, host.name, ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', 'cat', target], { reject: false });
      expect(read.exitCode).not.toBe(0);
      expect(read.stderr).toMatch(/Permission denied/);
      expect(read.stdout).not.toContain('note-');
    }
    // What open_basedir alone refuses: the other app's own storage dir is open to it, this one's is not.
    const pool = await sshRun(lab, 'a-web-1', ['cat', `/etc/php/8.2/fpm/pool.d/magrathea-${OTHER}.production.conf`]);
    expect(pool.stdout).toContain(`${LAB_STORAGE}/${OTHER}/production/:`);
    expect(pool.stdout).not.toContain(`${LAB_STORAGE}/${APP}/`);
  });

  it('a storage top that others may write to is refused before anything is made there', async () => {
    // Anyone able to write there could plant a name another app's directory is about to take.
    await sshRun(lab, 'a-web-1', ['chmod', '1777', LAB_STORAGE]);
    try {
      const { result } = await deployTree('stor-late', {}, manifest('cluster-a', 'shared: [files]'));
      expect(result.clusters[0]).toMatchObject({ status: 'failed' });
      expect(result.clusters[0]!.error).toMatch(new RegExp(`storage ${LAB_STORAGE} must be owned by root and writable by root only \\(it is root:root 1777\\)`));
      expect((await sshRun(lab, 'a-web-1', ['test', '-e', `${LAB_STORAGE}/stor-late`], { reject: false })).exitCode).not.toBe(0);
    } finally {
      await sshRun(lab, 'a-web-1', ['chmod', '755', LAB_STORAGE]);
    }
  });
});

describe('apps:destroy', () => {
  it('removes the instance\'s directory from the storage: a later app of the same name (and uid) inherits nothing', async () => {
    const instance = (await state.clusterInstances('cluster-a')).find((i) => i.app === OTHER)!;
    await sshRun(lab, 'a-web-2', ['setpriv', `--reuid=${unixUser(instance)}`, `--regid=${unixUser(instance)}`, '--init-groups', '--', 'sh', '-c', `echo left > ${LAB_STORAGE}/${OTHER}/production/files/x`]);
    expect(await stat(join(lab.dir, 'storage', 'cluster-a', OTHER, 'production', 'files', 'x')).then(() => true)).toBe(true);
    await undeployCluster({ cluster: config.clusters['cluster-a']!, instances: [instance], ssh: hostSshSettings(config), state, log: () => undefined });
    await expect(stat(join(lab.dir, 'storage', 'cluster-a', OTHER, 'production'))).rejects.toThrow(/ENOENT/);
    // The other app's files are untouched.
    expect(await readEveryHost('cluster-a')).toEqual(webHosts('cluster-a').map((h) => expect.stringMatching(new RegExp(`^200 v1 on ${h.name}: seeded\n`))));
  }, 120_000);
});

describe('the push on clusters without storage', () => {
  it('warns once per cluster and shared dir on a cluster of several web hosts without storage, and not on one with it', async () => {
    const bare: GatewayConfig = { ...config, clusters: { ...config.clusters, 'cluster-b': { ...config.clusters['cluster-b']! } } };
    delete bare.clusters['cluster-b']!.storage;
    const { result, lines } = await deployTree('stor-bare', wiki('v1'), manifest('cluster-a, cluster-b', 'shared: [storage, uploads]'), bare);
    expect(result.ok).toBe(true);
    const warnings = lines.filter((l) => /^warning:/.test(l));
    expect(warnings).toEqual([
      expect.stringMatching(/^warning: cluster-b has 2 web hosts and no storage: shared dir "storage" is kept on each of them apart.*\(see docs\/cloud-ready\.md#state\)$/),
      expect.stringMatching(/^warning: cluster-b has 2 web hosts and no storage: shared dir "uploads"/),
    ]);
    // And there, it is what it says: each host has its own.
    for (const host of webHosts('cluster-b')) {
      expect((await sshRun(lab, host.name, ['readlink', '/var/www/magrathea/stor-bare/production/current/storage'])).stdout.trim()).toBe('../../shared/storage');
    }
  }, 120_000);
});
