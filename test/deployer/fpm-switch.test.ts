import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { validateManifest } from '../../src/core/manifest/validate.js';
import { deploy, hostSshSettings } from '../../src/deployer/deploy.js';
import { undeployCluster } from '../../src/deployer/undeploy-cluster.js';
import { LAB_PORTS } from '../../src/lab/plan.js';
import type { LabStatus } from '../../src/lab/status.js';
import { curl } from '../helpers/curl.js';
import { openDeployState, writeTree, type SuiteDeployState } from '../helpers/deploy-trees.js';
import { useLab } from '../helpers/lab.js';

/**
 * PHP-FPM at a code-only redeploy, on the shared lab: the instance's own
 * workers are replaced (their realpath caches named the old release), and
 * nothing else. PHP-FPM is not reloaded: the other apps' pools keep running
 * and OPcache keeps what it compiled for them. Each pool keys OPcache by
 * the real path (opcache.revalidate_path), so a file that did not change,
 * hard-linked into the new release with its old time, is compiled again
 * there: `__DIR__` in it names the new release.
 */
const APP = 'fpm-sw';
const OTHER = 'fpm-other';
let lab: LabStatus;
let suite: SuiteDeployState;
let n = 0;

const manifest = (env = 'one') => [
  'stack: { php: "8.2", docroot: public }',
  'domains: ["${app}.fpm.example.com"]',
  'health: { path: /health.php }',
  'cache: { pass: ["^/"] }',
  `env: { FLAVOUR: ${env} }`,
  'environments:',
  '  production: { branch: master, clusters: [cluster-a] }',
  '',
].join('\n');

/** A release of `app`; every file but version.php dated 2020, as an unchanged file comes from git and rsync's link-dest. */
async function deployRelease(app: string, files: Record<string, string>, env?: string): Promise<void> {
  const tree = join(suite.work, `${app}-${++n}`);
  await writeTree(tree, { 'public/health.php': '<?php echo "ok";', ...files });
  for (const path of ['public/health.php', ...Object.keys(files)]) if (!path.endsWith('version.php')) await utimes(join(tree, path), new Date('2020-01-01'), new Date('2020-01-01'));
  const parsed = validateManifest(manifest(env));
  if ('problems' in parsed) throw new Error(JSON.stringify(parsed.problems));
  const result = await deploy({ app, env: 'production', release: `r${n}`, manifest: parsed.manifest, source: tree }, { config: suite.config, state: suite.state, log: () => undefined });
  expect(result.clusters.map((c) => `${c.status} ${c.error ?? ''}`)).toEqual(['live ']);
}

/** What each web host of cluster-a answers for app's page, asked directly (no cache, no balancer in between). */
async function onEachWebHost(app: string, path = '/'): Promise<string[]> {
  const hosts = lab.hosts.filter((h) => h.cluster === 'cluster-a' && h.roles.includes('web'));
  return Promise.all(hosts.map(async (h) => (await curl(`http://${h.address}:${LAB_PORTS.web}${path}`, `${app}.fpm.example.com`)).body));
}

beforeAll(async () => {
  lab = await useLab();
  suite = await openDeployState(lab.config, 'fpm-switch');
}, 120_000);

afterAll(async () => {
  if (suite) {
    const instances = (await suite.state.clusterInstances('cluster-a')).filter((i) => i.app === APP || i.app === OTHER);
    if (instances.length > 0) await undeployCluster({ cluster: suite.config.clusters['cluster-a']!, instances, ssh: hostSshSettings(suite.config), state: suite.state, log: () => undefined });
    await suite.close();
  }
}, 120_000);

describe('PHP-FPM at a redeploy', () => {
  it('serves the new code at once from a file that did not change, and leaves the other apps\' pools and OPcache alone', async () => {
    // index.php never changes; what it includes, through __DIR__, does.
    const index = '<?php include __DIR__ . "/version.php"; echo " ", getenv("FLAVOUR"), "\\n";';
    await deployRelease(APP, { 'public/index.php': index, 'public/version.php': '<?php echo "v1";' });
    // The other app says when OPcache started (PHP-FPM reloaded: a new one) and which master runs its worker.
    // It also tries to run the first app's file, by its real path (OPcache's key) and through current, once that file is compiled.
    const root = `/var/www/magrathea/${APP}/production`;
    const steal = `<?php foreach (["${root}/releases/r1/public/version.php", "${root}/current/public/version.php"] as $f) { @include $f; echo "|"; }`;
    await deployRelease(OTHER, { 'public/index.php': '<?php echo opcache_get_status(false)["opcache_statistics"]["start_time"] ?? "off", " ", posix_getppid();', 'public/steal.php': steal });
    expect(await onEachWebHost(APP)).toEqual(['v1 one\n', 'v1 one\n']);
    // Compiled for the first app, its file stays out of the other's reach (open_basedir, and the file is not its to read).
    for (const line of await onEachWebHost(OTHER, '/steal.php')) expect(line).not.toMatch(/v1/);
    const before = await onEachWebHost(OTHER);
    for (const line of before) expect(line).toMatch(/^\d+ \d+$/);

    await deployRelease(APP, { 'public/index.php': index, 'public/version.php': '<?php echo "v2";' });
    expect(await onEachWebHost(APP)).toEqual(['v2 one\n', 'v2 one\n']);
    expect(await onEachWebHost(OTHER)).toEqual(before);

    // A changed pool (its env) reloads PHP-FPM, as it must to read it.
    await deployRelease(APP, { 'public/index.php': index, 'public/version.php': '<?php echo "v3";' }, 'two');
    expect(await onEachWebHost(APP)).toEqual(['v3 two\n', 'v3 two\n']);
  }, 240_000);
});
