import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GatewayConfig } from '../../src/core/config/types.js';
import type { DeployOutcome } from '../../src/deployer/types.js';
import type { LabStatus } from '../../src/lab/status.js';
import { curl } from '../helpers/curl.js';
import { openDeployHarness, type DeployHarness } from '../helpers/deploy-trees.js';
import { sshRun, useLab } from '../helpers/lab.js';

/**
 * Cloud-ready advice on the lab: the lines a push prints, drawn from the
 * app and its cluster, and the one check that stops a deploy (a PHP
 * extension composer.json requires, missing on a web host). The trees go to
 * deploy() as built releases would (a build would run composer, which
 * checks extensions on the gateway, not on the hosts).
 */
const APP = 'adv-app';
const ROOT = `/var/www/magrathea/${APP}/production`;
const FRONT_CONTROLLER = 'RewriteEngine On\nRewriteCond %{REQUEST_FILENAME} !-f\nRewriteRule ^ index.php [L]\n';

let lab: LabStatus;
let config: GatewayConfig;
let harness: DeployHarness;

function manifest(extra = ''): string {
  return ['stack: { php: "8.2", docroot: public }', 'domains: ["${app}.adv.example.com"]', 'environments:', '  production: { branch: master, clusters: [cluster-a] }', extra].join('\n');
}

function deployTree(files: Record<string, string>, yaml = manifest()): Promise<{ result: DeployOutcome; lines: string[] }> {
  return harness.deployTree(APP, files, yaml);
}

const advice = (lines: string[]) => lines.filter((l) => /^(advice|warning): /.test(l));
const current = async (host: string) => (await sshRun(lab, host, ['readlink', `${ROOT}/current`])).stdout.trim();

beforeAll(async () => {
  lab = await useLab();
  harness = await openDeployHarness(lab.config, 'advice-test');
  config = harness.config;
}, 120_000);

afterAll(async () => {
  await harness?.close();
});

describe('advice on a push', () => {
  it('says nothing for an app that is ready: health page there, no sessions, no .env', async () => {
    const { result, lines } = await deployTree({ 'public/index.php': '<?php echo "v1\\n";', 'public/health.php': '<?php echo "ok";' }, manifest('health: { path: /health.php }'));
    expect(result.clusters[0]).toMatchObject({ status: 'live' });
    expect(advice(lines)).toEqual([]);
  });

  it('points to the health section when the health path is not in the release, and the deploy\'s check then fails as it said', async () => {
    const { result, lines } = await deployTree({ 'public/index.php': '<?php echo "v2\\n";' }, manifest('health: { path: /healthz, timeout: 2s }'));
    expect(advice(lines)).toEqual([
      expect.stringMatching(/^advice: health path \/healthz is not a file of the release \(looked for public\/healthz, public\/healthz\.php, .*\(see docs\/cloud-ready\.md#health-endpoints\)$/),
    ]);
    expect(result.clusters[0]!.status).toBe('rolled-back');
    expect(result.clusters[0]!.error).toMatch(/verify: .*healthz.* answered 404, expected 200 within 2 s/);
  });

  it('trusts a front controller with unknown paths', async () => {
    const { result, lines } = await deployTree(
      { 'public/index.php': '<?php echo $_SERVER["REQUEST_URI"] === "/healthz" ? "ok" : "v3", "\\n";', 'public/.htaccess': FRONT_CONTROLLER },
      manifest('health: { path: /healthz }'),
    );
    expect(advice(lines)).toEqual([]);
    expect(result.clusters[0]).toMatchObject({ status: 'live' });
  });

  it('points a release hook that writes into the release to the release hooks section', async () => {
    const { result, lines } = await deployTree({ 'public/index.php': '<?php echo "v4\\n";', 'public/.htaccess': FRONT_CONTROLLER }, manifest('hooks: { release: "touch cache.txt" }'));
    expect(result.clusters[0]!.status).toBe('failed');
    expect(result.clusters[0]!.error).toMatch(/hook: .*Permission denied/);
    expect(advice(lines)).toEqual([expect.stringMatching(/^advice: the release hook was refused a write: .*#release-hooks\)$/)]);
  });

  it('points a committed .env to the config section, and says nothing of sessions where the cluster has a store', async () => {
    const { lines } = await deployTree({ 'public/index.php': '<?php session_start(); echo "v5\\n";', 'public/.env': '', '.env': 'DB_PASSWORD=committed\n' });
    // The lab's clusters have a session store; the advice without one is checked in sessions.test.ts.
    expect(config.clusters['cluster-a']!.sessions).toBeDefined();
    expect(advice(lines)).toEqual([expect.stringMatching(/^advice: the release holds a \.env file: .*#config-from-the-environment\)$/)]);
  });
});

describe('PHP extensions required by composer.json', () => {
  it('a deploy needing one no web host has fails before the switch, naming the host and the extension', async () => {
    const live = await current('a-web-1');
    const composer = JSON.stringify({ require: { php: '>=8.1', 'ext-gd': '*', 'ext-nonexistent': '*' } });
    const { result } = await deployTree({ 'public/index.php': '<?php echo "never served\\n";', 'composer.json': composer });
    expect(result.clusters[0]!.status).toBe('failed');
    expect(result.clusters[0]!.error).toMatch(/^cluster-a: a-web-1: check: PHP 8\.2 lacks ext-nonexistent, required by composer\.json/);
    expect(result.clusters[0]!.error).not.toContain('ext-gd');
    for (const host of ['a-web-1', 'a-web-2']) expect(await current(host)).toBe(live);
    expect((await curl(lab.edges.find((e) => e.cluster === 'cluster-a')!.url, `${APP}.adv.example.com`)).body).not.toContain('never served');
  });

  it('one every web host has passes', async () => {
    const { result } = await deployTree({ 'public/index.php': '<?php echo "with gd\\n";', 'composer.json': JSON.stringify({ require: { 'ext-gd': '*', 'ext-json': '*' } }) });
    expect(result.clusters[0]).toMatchObject({ status: 'live' });
  });
});
