import { describe, expect, it } from '@jest/globals';
import type { ClusterConfig } from './config/types.js';
import { validateGatewayConfig } from './config/validate.js';
import { adviseHookFailure, adviseInstance, formatAdvice, missingExtensions, releasePathsToCheck, requiredExtensions, type ReleaseFacts } from './advice.js';
import { resolveInstance } from './manifest/resolve.js';
import type { InstanceConfig } from './manifest/types.js';
import { validateManifest } from './manifest/validate.js';

function instance(extra = ''): InstanceConfig {
  const parsed = validateManifest(['stack: { docroot: public }', 'domains: ["${app}.example.com"]', 'environments:', '  production: { branch: master, clusters: [c1] }', extra].join('\n'));
  if ('problems' in parsed) throw new Error(JSON.stringify(parsed.problems));
  const resolved = resolveInstance(parsed.manifest, { app: 'shop', env: 'production', cluster: 'c1' });
  if ('problems' in resolved) throw new Error(JSON.stringify(resolved.problems));
  return resolved.instance;
}

function cluster(webHosts: number, extra = ''): ClusterConfig {
  const web = Array.from({ length: webHosts }, (_, i) => `    w${i + 1}: { address: 127.0.1.${i + 1}, roles: [web] }\n`).join('');
  const result = validateGatewayConfig('/cfg', { 'clusters.yml': `c1:\n  hosts:\n${web}    e1: { address: 127.0.1.99, roles: [cache, balancer] }\n${extra}` });
  if ('problems' in result) throw new Error(JSON.stringify(result.problems));
  return result.config.clusters.c1!;
}

const served: ReleaseFacts = { paths: { 'public/index.php': 'file' }, frontController: false, usesSessions: false };
const lines = (i: InstanceConfig, c: ClusterConfig, facts = served): string[] => adviseInstance(i, c, facts).map(formatAdvice);

describe('adviseInstance', () => {
  it('warns once per shared dir on a cluster of several web hosts without storage, and not with storage or one host', () => {
    const app = instance('shared: [storage, var/uploads]');
    expect(lines(app, cluster(2))).toEqual([
      expect.stringMatching(/^warning: c1 has 2 web hosts and no storage: shared dir "storage" is kept on each of them apart.*\(see docs\/cloud-ready\.md#state\)$/),
      expect.stringMatching(/^warning: c1 has 2 web hosts and no storage: shared dir "var\/uploads"/),
    ]);
    expect(lines(app, cluster(2, '  storage: /srv/magrathea\n'))).toEqual([]);
    expect(lines(app, cluster(1))).toEqual([]);
  });

  it('advises a session store when the app uses PHP sessions on several web hosts', () => {
    const facts = { ...served, usesSessions: true };
    expect(lines(instance(), cluster(2), facts)).toEqual([expect.stringMatching(/^advice: c1 has 2 web hosts and no session store declared: .*#sessions\)$/)]);
    expect(lines(instance(), cluster(1), facts)).toEqual([]);
    expect(lines(instance(), cluster(2), served)).toEqual([]);
    // A store declared (another key of clusters.yml) silences it.
    expect(lines(instance(), { ...cluster(2), sessions: { host: 'e1' } } as ClusterConfig, facts)).toEqual([]);
  });

  it('advises on a health path the release does not have, unless a front controller answers unknown paths', () => {
    const app = instance('health: { path: /health }');
    expect(releasePathsToCheck(app)).toEqual(['public/health', 'public/health.php', 'public/health/index.php', 'public/health/index.html', 'public/health/index.htm', '.env']);
    expect(lines(app, cluster(1))).toEqual([expect.stringMatching(/^advice: health path \/health is not a file of the release \(looked for public\/health, public\/health\.php, .*\).*#health-endpoints\)$/)]);
    expect(lines(app, cluster(1), { ...served, paths: { 'public/health.php': 'file' } })).toEqual([]);
    expect(lines(app, cluster(1), { ...served, paths: {}, frontController: true })).toEqual([]);
    // The default, /, is the docroot's index.
    expect(releasePathsToCheck(instance())).toEqual(['public/index.php', 'public/index.html', 'public/index.htm', '.env']);
    expect(lines(instance(), cluster(1), { ...served, paths: { 'public/index.php': 'dir' } })).toEqual([expect.stringMatching(/^advice: health path \/ /)]);
  });

  it('advises config from the environment when a .env file is committed', () => {
    expect(lines(instance(), cluster(1), { ...served, paths: { ...served.paths, '.env': 'file' } })).toEqual([expect.stringMatching(/^advice: the release holds a \.env file.*#config-from-the-environment\)$/)]);
  });
});

describe('adviseHookFailure', () => {
  it('points a hook refused a write to the release hooks section, and says nothing of other failures', () => {
    expect(adviseHookFailure("touch: cannot touch 'cache/x': Permission denied").map(formatAdvice)).toEqual([expect.stringMatching(/^advice: the release hook was refused a write: .*#release-hooks\)$/)]);
    expect(adviseHookFailure('PHP Warning: file_put_contents(/x): Failed to open stream: Read-only file system')).toHaveLength(1);
    expect(adviseHookFailure('SQLSTATE[HY000] [2002] Connection refused')).toEqual([]);
  });
});

describe('PHP extensions', () => {
  it('reads ext-* of require (not require-dev), lowercased and once each', () => {
    expect(requiredExtensions('{"require": {"php": ">=8.1", "ext-GD": "*", "ext-intl": "*", "ext-gd": "*", "monolog/monolog": "^3"}, "require-dev": {"ext-xdebug": "*"}}')).toEqual(['gd', 'intl']);
    expect(requiredExtensions('{"require": []}')).toEqual([]);
    expect(requiredExtensions('not json')).toEqual([]);
  });

  it('finds those php -m does not list, whatever their case or Zend prefix', () => {
    const modules = '[PHP Modules]\nCore\ngd\nSimpleXML\npdo_sqlite\n\n[Zend Modules]\nZend OPcache\n';
    expect(missingExtensions(['gd', 'simplexml', 'pdo-sqlite', 'zend-opcache', 'opcache', 'nonexistent', 'intl'], modules)).toEqual(['nonexistent', 'intl']);
  });
});
