import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterConfig, GatewayConfig } from '../../src/core/config/types.js';
import { validateGatewayConfig } from '../../src/core/config/validate.js';
import { resolveInstance } from '../../src/core/manifest/resolve.js';
import type { InstanceConfig } from '../../src/core/manifest/types.js';
import { validateManifest } from '../../src/core/manifest/validate.js';
import { renderCluster, type RenderedFile } from '../../src/core/render/cluster.js';
import { formatProblem } from '../../src/core/source.js';
import { checkHost, runInHostView, type CheckFailure } from '../../src/host-config/check.js';
import { readApp } from '../../src/builder/manifest.js';
import { renderApps } from '../../src/host-config/render-apps.js';
import { hostTree, writeRendered } from '../../src/host-config/write.js';

/**
 * Rendered files checked by the real tools: apache2 -t, php-fpm8.2 -t,
 * varnishd -C and haproxy -c, each run on one host's files seen at their
 * real paths. Nothing is contacted: the addresses are only written.
 */
const CLUSTERS = `
cluster-a:
  hosts:
    a-web-1: { address: 127.0.1.1, roles: [web] }
    a-web-2: { address: 127.0.1.2, roles: [web] }
    a-edge: { address: 127.0.1.3, roles: [cache, balancer] }
cluster-b:
  ports: { web: 8080, cache: 6091, balancer: 8000 }
  hosts:
    b-web-1: { address: 127.0.2.1, roles: [web] }
    b-web-2: { address: 127.0.2.2, roles: [web] }
    b-web-3: { address: 127.0.2.3, roles: [web] }
    b-cache: { address: 127.0.2.4, roles: [cache] }
    b-lb: { address: 127.0.2.5, roles: [balancer] }
`;

let out: string;
let config: GatewayConfig;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'magrathea-render-'));
  const result = validateGatewayConfig('/test/config', { 'clusters.yml': CLUSTERS });
  if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
  config = result.config;
});

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

function instance(text: string, app: string, env: string, cluster: string): InstanceConfig {
  const parsed = validateManifest(text, `${app}/magrathea.yml`);
  if ('problems' in parsed) throw new Error(parsed.problems.map(formatProblem).join('\n'));
  const result = resolveInstance(parsed.manifest, { app, env, cluster });
  if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.instance;
}

/** Writes a cluster's files under `<out>/<name>` and runs every host's checks. */
async function renderAndCheck(name: string, cluster: ClusterConfig, instances: InstanceConfig[]): Promise<{ files: RenderedFile[]; failures: CheckFailure[]; dir: string }> {
  const rendered = renderCluster(cluster, instances);
  if ('problems' in rendered) throw new Error(rendered.problems.map(formatProblem).join('\n'));
  const dir = join(out, name);
  await writeRendered(dir, cluster.name, rendered.files);
  const failures: CheckFailure[] = [];
  for (const host of cluster.hosts) failures.push(...(await checkHost(cluster, host, instances, rendered.files, hostTree(dir, cluster.name, host.name))));
  return { files: rendered.files, failures, dir };
}

describe('rendered configuration passes the real validators', () => {
  it('(a) one app on two clusters, with different domains and env', async () => {
    const app = await readApp('examples/hello-php');
    const renders = renderApps(config, [app]);
    expect(renders.map((r) => r.cluster.name).sort()).toEqual(['cluster-a', 'cluster-b']);
    for (const { cluster, instances } of renders) {
      const { files, failures } = await renderAndCheck('a', cluster, instances);
      expect(failures).toEqual([]);
      const map = files.find((f) => f.path.endsWith('/hosts.map'))!.content;
      const pool = files.find((f) => f.service === 'fpm')!.content;
      if (cluster.name === 'cluster-a') {
        expect(map).toContain('hello-php.example.com magrathea_hello-php_production');
        expect(pool).toContain("env[GREETING] = 'Hello from cluster-a'");
      } else {
        expect(map).toContain('hello-php.example.net magrathea_hello-php_production');
        expect(map).not.toContain('example.com');
        expect(pool).toContain("env[GREETING] = 'Hallo from cluster-b'");
        expect(pool).toContain("env[DB_HOST] = 'db-b.internal'");
      }
    }
  });

  it('(b) three apps on one cluster', async () => {
    const instances = ['blog', 'shop', 'wiki'].map((app, i) =>
      instance(
        `stack: { php: "8.2", docroot: ${i === 0 ? '.' : 'public'} }\ndomains: ["\${app}.example.com"]\nenv: { N: "${i}" }\ncache: { ttl: ${i}m, pass: ["^/admin", "\\\\.json$"] }\nhealth: { path: /up, status: 204 }\nenvironments:\n  production: { branch: master, clusters: [cluster-a] }\n`,
        app,
        'production',
        'cluster-a',
      ),
    );
    const { files, failures } = await renderAndCheck('b', config.clusters['cluster-a']!, instances);
    expect(failures).toEqual([]);
    const main = files.find((f) => f.path.endsWith('/main.vcl'))!.content;
    expect(main.match(/return \(vcl\(magrathea_label_\w+\)\);$/gm)).toHaveLength(3);
    expect(files.filter((f) => f.host === 'a-web-1' && f.service === 'apache')).toHaveLength(3);
  });

  it('(c) one app with staging and production on the same cluster', async () => {
    const text = 'domains: ["${app}.example.com"]\nenvironments:\n  production: { branch: master, clusters: [cluster-b] }\n  staging: { branch: develop, clusters: [cluster-b], domains: ["staging.${app}.example.com"], env: { APP_ENV: staging } }\n';
    const instances = [instance(text, 'shop', 'production', 'cluster-b'), instance(text, 'shop', 'staging', 'cluster-b')];
    const { files, failures } = await renderAndCheck('c', config.clusters['cluster-b']!, instances);
    expect(failures).toEqual([]);
    expect(files.filter((f) => f.host === 'b-web-3').map((f) => f.path).sort()).toEqual([
      '/etc/apache2/magrathea.d/shop.production.conf',
      '/etc/apache2/magrathea.d/shop.staging.conf',
      '/etc/php/8.2/fpm/pool.d/magrathea-shop.production.conf',
      '/etc/php/8.2/fpm/pool.d/magrathea-shop.staging.conf',
    ]);
  });

  it('(d) sessions: in the store of a cluster that has one (per instance user, password and prefix), else each browser pinned to a web host by the cache', async () => {
    const text = 'domains: ["${app}.example.com"]\nenvironments:\n  production: { branch: master, clusters: [cluster-a, cluster-s] }\n';
    const withStore = validateGatewayConfig('/test/config', { 'clusters.yml': `${CLUSTERS}cluster-s:\n  hosts:\n    s-web-1: { address: 127.0.3.1, roles: [web] }\n    s-web-2: { address: 127.0.3.2, roles: [web] }\n    s-edge: { address: 127.0.3.3, roles: [cache, balancer, sessions] }\n  sessions: { port: 6390 }\n` });
    if ('problems' in withStore) throw new Error(withStore.problems.map(formatProblem).join('\n'));
    const cluster = withStore.config.clusters['cluster-s']!;
    const instances = ['blog', 'shop'].map((app) => instance(text, app, 'production', 'cluster-s'));
    const passwords = { 'blog.production': 'b'.repeat(32), 'shop.production': 's'.repeat(32) };
    const rendered = renderCluster(cluster, instances, { sessionPasswords: passwords });
    if ('problems' in rendered) throw new Error('unexpected');
    const dir = join(out, 'd');
    await writeRendered(dir, cluster.name, rendered.files);
    const failures: CheckFailure[] = [];
    for (const host of cluster.hosts) failures.push(...(await checkHost(cluster, host, instances, rendered.files, hostTree(dir, cluster.name, host.name))));
    expect(failures).toEqual([]);
    const pool = rendered.files.find((f) => f.host === 's-web-2' && f.path.endsWith('/magrathea-shop.production.conf'))!;
    expect(pool.mode).toBe(0o600);
    expect(pool.content).toContain('php_admin_value[session.save_handler] = redis\n');
    expect(pool.content).toContain(`php_admin_value[session.save_path] = 'tcp://127.0.3.3:6390?auth[]=magrathea.shop.production&auth[]=${'s'.repeat(32)}&prefix=magrathea:shop.production:'\n`);
    expect(rendered.files.filter((f) => f.content.includes('b'.repeat(32))).map((f) => f.path)).toEqual(['/etc/php/8.2/fpm/pool.d/magrathea-blog.production.conf', '/etc/php/8.2/fpm/pool.d/magrathea-blog.production.conf']);
    // With a store, requests go round robin; without, a cookie pins each browser.
    expect(rendered.files.some((f) => f.content.includes('magrathea_web'))).toBe(false);
    const pinned = renderCluster(config.clusters['cluster-a']!, [instance(text, 'shop', 'production', 'cluster-a')]);
    if ('problems' in pinned) throw new Error('unexpected');
    const vcl = pinned.files.find((f) => f.path.endsWith('/apps/shop.production.vcl'))!.content;
    expect(vcl).toContain('if (req.http.X-Magrathea-Web == "a-web-1" && std.healthy(b_shop_production_a-web-1)) {');
    expect(vcl).toContain('unset resp.http.X-Magrathea-Web;');
    expect(pinned.files.find((f) => f.path.endsWith('/shop.production.cfg'))!.content).toContain('http-response add-header Set-Cookie "magrathea_web=%[res.hdr(X-Magrathea-Web)]; Path=/; HttpOnly; SameSite=Lax" if { res.hdr(X-Magrathea-Web) -m reg ^[a-z0-9-]+$ }');
    expect(pinned.files.find((f) => f.service === 'fpm')!.content).toContain('php_admin_value[session.save_path] = /var/www/magrathea/shop/production/tmp\n');
  });

  it('a cluster with no app still gets a VCL and a frontend that pass', async () => {
    const { failures, files } = await renderAndCheck('empty', config.clusters['cluster-a']!, []);
    expect(failures).toEqual([]);
    expect(files.map((f) => f.path).sort()).toEqual(['/etc/haproxy/magrathea.d/00-magrathea.cfg', '/etc/haproxy/magrathea.d/hosts.map', '/etc/varnish/magrathea/boot.cli', '/etc/varnish/magrathea/main.vcl']);
  });

  it('two instances claiming one domain on a cluster are refused before rendering', () => {
    const text = 'domains: [same.example.com]\nenvironments:\n  production: { branch: master, clusters: [cluster-a] }\n';
    const result = renderCluster(config.clusters['cluster-a']!, [instance(text, 'one', 'production', 'cluster-a'), instance(text, 'two', 'production', 'cluster-a')]);
    expect('problems' in result && result.problems.map(formatProblem)).toEqual([
      expect.stringMatching(/^two\/magrathea\.yml:1:11: domains\.0: domain "same\.example\.com" is already served on cluster cluster-a by one \(production\)/),
    ]);
  });
});

describe('the checks can fail, and say where', () => {
  const broken: Record<string, { host: string; file: string; line: string }> = {
    apache: { host: 'a-web-1', file: '/etc/apache2/magrathea.d/shop.production.conf', line: 'NoSuchDirective on' },
    fpm: { host: 'a-web-1', file: '/etc/php/8.2/fpm/pool.d/magrathea-shop.production.conf', line: 'pm = sometimes' },
    varnish: { host: 'a-edge', file: '/etc/varnish/magrathea/apps/shop.production.vcl', line: 'sub vcl_recv { set req.nosuch = 1; }' },
    haproxy: { host: 'a-edge', file: '/etc/haproxy/magrathea.d/shop.production.cfg', line: '    nosuchkeyword 1' },
  };
  for (const [service, { host, file, line }] of Object.entries(broken)) {
    it(`${service}: a broken line is reported with the file`, async () => {
      const cluster = config.clusters['cluster-a']!;
      const instances = [instance('domains: [shop.example.com]\nenvironments:\n  production: { branch: master, clusters: [cluster-a] }\n', 'shop', 'production', 'cluster-a')];
      const rendered = renderCluster(cluster, instances);
      if ('problems' in rendered) throw new Error('unexpected');
      const dir = join(out, `broken-${service}`);
      await writeRendered(dir, cluster.name, rendered.files);
      const tree = hostTree(dir, cluster.name, host);
      const lines = (await readFile(join(tree, file), 'utf8')).split('\n').length;
      await appendFile(join(tree, file), `${line}\n`);
      const failures = await checkHost(cluster, cluster.hosts.find((h) => h.name === host)!, instances, rendered.files, tree);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ service, host, file: join(tree, file) });
      // The line the validator names is the one appended (FPM names none for a bad value).
      if (service !== 'fpm') expect(failures[0]!.line).toBe(lines);
      expect(failures[0]!.message.length).toBeGreaterThan(0);
    });
  }
});

describe('env values reach PHP-FPM unchanged', () => {
  it('php-fpm reads back every printable value exactly as it was set', async () => {
    const values: Record<string, string> = {
      DQ: 'say "hi"',
      SQ: "it's",
      ONLY_SQ: "'",
      SQ_PAIR: "''",
      BACKSLASH_END: 'ends with \\',
      BRACES: '${HOME} and {x}',
      DOLLAR: '$HOME $1 $',
      HASH_SEMI: 'a # b ; c',
      MIXED: `p"a'ss\\w$o{r}d;#`,
      UNICODE: 'héllo wörld 日本',
      SPACES: '  padded  ',
      EQUALS: 'a=b&c=d',
    };
    const cluster = config.clusters['cluster-a']!;
    const text = 'environments:\n  production: { branch: master, clusters: [cluster-a] }\n';
    const parsed = validateManifest(text, 'm.yml');
    if ('problems' in parsed) throw new Error('bad fixture');
    const result = resolveInstance(parsed.manifest, { app: 'shop', env: 'production', cluster: 'cluster-a' }, { app: values, clusters: {} });
    if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
    const rendered = renderCluster(cluster, [result.instance]);
    if ('problems' in rendered) throw new Error('unexpected');
    const dir = join(out, 'env');
    await writeRendered(dir, cluster.name, rendered.files);
    const work = await mkdtemp(join(tmpdir(), 'magrathea-fpm-'));
    try {
      const conf = join(work, 'fpm.conf');
      const log = join(work, 'fpm.log');
      await appendFile(conf, `[global]\nerror_log = ${log}\ninclude = /etc/php/8.2/fpm/pool.d/magrathea-*.conf\n`);
      const run = await runInHostView(
        { work: join(work, 'ns'), tree: hostTree(dir, cluster.name, 'a-web-1'), tops: ['etc', 'var', 'run'], users: ['m_shop_production'], dirs: ['/var/log/magrathea/shop/production', '/run/php'] },
        ['php-fpm8.2', '-tt', '-y', conf],
      );
      expect({ exitCode: run.exitCode, error: run.stderr.split('\n').filter((l) => l.includes('ERROR')) }).toEqual({ exitCode: 0, error: [] });
      // -tt prints the configuration as FPM understood it: "NOTICE: \tenv[KEY] = value".
      const seen: Record<string, string> = {};
      for (const match of (await readFile(log, 'utf8')).matchAll(/NOTICE: \tenv\[([A-Z_]+)\] = (.*)$/gm)) seen[match[1]!] = match[2]!;
      delete seen.PATH;
      delete seen.TMPDIR;
      expect(seen).toEqual(values);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
