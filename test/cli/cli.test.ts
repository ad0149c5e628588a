import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../src/adapters/exec.js';

/** The built command line, as users run it (npm test builds before the tests). */
const CLI = resolve('dist/src/cli/main.js');
const magrathea = (...args: string[]) => run('node', [CLI, ...args], { reject: false, env: { MAGRATHEA_CONFIG: resolve('config') } });

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'magrathea-cli-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

describe('magrathea validate', () => {
  it('passes the example app', async () => {
    const result = await magrathea('validate', 'examples/hello-php');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('magrathea.yml: ok');
  });

  it('exits 1 with one file:line:col line per problem', async () => {
    const app = join(work, 'bad-app');
    await cp('examples/hello-php', app, { recursive: true });
    await writeFile(join(app, 'magrathea.yml'), 'stack:\n  php: "8.2"\n  docroot: ../etc\nenv:\n  "A B": x\nenvironments:\n  production: { branch: master, clusters: [cluster-a] }\n');
    const result = await magrathea('validate', app);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^${join(app, 'magrathea.yml')}:3:12: stack\\.docroot: "\\.\\./etc" is not a valid path`)),
      expect.stringMatching(new RegExp(`^${join(app, 'magrathea.yml')}:5:3: env\\.A B: "A B" is not a valid variable name`)),
    ]);
  });

  it('names a missing manifest', async () => {
    const result = await magrathea('validate', work);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/no magrathea\.yml in/);
  });
});

describe('magrathea render', () => {
  it('writes every file at OUT/<cluster>/<host>/<path> and checks them with the real tools', async () => {
    const out = join(work, 'out');
    const result = await magrathea('render', 'examples/hello-php', '--config', 'config', '--out', out, '--check');
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/a-web-1: ok \(apache, fpm\)/);
    expect(result.stdout).toMatch(/b-cache: ok \(varnish\)/);
    const files = await listFiles(out);
    expect(files).toContain('cluster-a/a-web-2/etc/php/8.2/fpm/pool.d/magrathea-hello-php.production.conf');
    expect(files).toContain('cluster-b/b-lb/etc/haproxy/magrathea.d/hosts.map');
    expect(files).toContain('cluster-b/b-cache/etc/varnish/magrathea/apps/hello-php.production.vcl');
    // Each Varnish host also gets main.vcl (routing by label) and boot.cli (loading each instance's VCL under its label).
    expect(files).toContain('cluster-b/b-cache/etc/varnish/magrathea/boot.cli');
    expect(files).toContain('cluster-a/a-edge/etc/varnish/magrathea/main.vcl');
    expect(files).toHaveLength(22);
  });

  it('renders the environment asked for', async () => {
    const out = join(work, 'out-staging');
    const result = await magrathea('render', 'examples/hello-php', '--out', out, '--env', 'staging');
    expect(result.exitCode).toBe(0);
    const files = await listFiles(out);
    expect(files.every((f) => f.startsWith('cluster-a/'))).toBe(true);
    expect(files).toContain('cluster-a/a-web-1/etc/apache2/magrathea.d/hello-php.staging.conf');
  });

  it('writes nothing when an app refers to a cluster the gateway does not have', async () => {
    const app = join(work, 'lost');
    await cp('examples/hello-php', app, { recursive: true });
    await writeFile(join(app, 'magrathea.yml'), 'environments:\n  production:\n    branch: master\n    clusters: [cluster-a, cluster-z]\n');
    const out = join(work, 'out-lost');
    const result = await magrathea('render', app, '--out', out);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/magrathea\.yml:4:27: environments\.production\.clusters\.1: no cluster "cluster-z" in the gateway configuration/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a missing --out and unknown flags as usage errors (exit 2)', async () => {
    expect((await magrathea('render', 'examples/hello-php')).exitCode).toBe(2);
    const unknown = await magrathea('render', 'examples/hello-php', '--out', work, '--chekc');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option --chekc/);
  });
});

describe('magrathea explain', () => {
  it('shows each value with its layer and source', async () => {
    const result = await magrathea('explain', 'examples/hello-php', '--cluster', 'cluster-b');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^domains\s+\["hello-php\.example\.net"\]\s+clusters\.cluster-b\s+\S+magrathea\.yml:\d+:\d+$/m);
    expect(result.stdout).toMatch(/^env\.APP_ENV\s+"production"\s+base\s/m);
    const json = JSON.parse((await magrathea('explain', 'examples/hello-php', '--cluster', 'cluster-a', '--env', 'staging', '--json')).stdout);
    expect(json.values.find((v: { path: string }) => v.path === 'env.APP_ENV')).toMatchObject({ value: 'staging', layer: 'environments.staging' });
  });

  it('says which clusters an environment has when asked for another', async () => {
    const result = await magrathea('explain', 'examples/hello-php', '--cluster', 'cluster-b', '--env', 'staging');
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/environment "staging" does not deploy to cluster "cluster-b"; its clusters are: cluster-a/);
  });
});

describe('magrathea status', () => {
  it('names what is missing on a gateway where nothing runs; --check exits 1', async () => {
    const config = join(work, 'status-config');
    await cp('config', config, { recursive: true });
    await writeFile(join(config, 'gateway.yml'), `${(await readFile(join(config, 'gateway.yml'), 'utf8')).replace(/^state_dir:.*$/m, `state_dir: ${join(work, 'status-state')}`)}`);
    const shown = await magrathea('status', '--config', config);
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toMatch(/^deploys {5}0 worker\(s\)/m);
    expect(shown.stdout).toMatch(/^ {2}- no deploy worker is running: pushes wait until one starts/m);
    expect(shown.stdout).toMatch(/^ {2}- cluster-a\/a-web-1: never visited by the accounting job$/m);
    const checked = await magrathea('status', '--check', '--json', '--config', config);
    expect(checked.exitCode).toBe(1);
    expect(checked.stderr).toMatch(/status: \d+ problem\(s\)/);
    expect((JSON.parse(checked.stdout) as { problems: string[] }).problems.length).toBeGreaterThan(2);
  });
});

describe('magrathea', () => {
  it('lists its commands, and gives an unknown command its own exit code', async () => {
    const help = await magrathea('help');
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/validate .*\n.*render .*\n.*explain /);
    const unknown = await magrathea('rendr');
    expect(unknown.exitCode).toBe(3);
    expect(unknown.stderr).toMatch(/unknown command "rendr"/);
  });
});
