import { describe, expect, it } from '@jest/globals';
import { formatProblem } from '../source.js';
import { diffInstances, explainInstance, formatDifferences } from './explain.js';
import { checkAllInstances, resolveInstance } from './resolve.js';
import type { ConfigVars, InstanceConfig } from './types.js';
import { validateManifest } from './validate.js';

const TEXT = `stack: { php: "8.2", docroot: public }
domains: ["\${app}.example.com"]
env: { APP_ENV: production, GREETING: "hi from \${cluster}", NODE: "\${host}", PRICE: "$$5" }
cache: { ttl: 60s, pass: ["^/admin"] }
environments:
  production: { branch: master, clusters: [cluster-a, cluster-b] }
  staging:
    branch: develop
    clusters: [cluster-a]
    domains: ["staging.\${app}.example.com"]
    env: { APP_ENV: staging }
clusters:
  cluster-b:
    domains: ["\${app}.example.net"]
    env: { DB_HOST: db-b.internal }
    cache: { ttl: 5m }
`;

function resolve(env: string, cluster: string, vars?: ConfigVars): InstanceConfig {
  const parsed = validateManifest(TEXT, 'magrathea.yml');
  if ('problems' in parsed) throw new Error(parsed.problems.map(formatProblem).join('\n'));
  const result = resolveInstance(parsed.manifest, { app: 'shop', env, cluster }, vars);
  if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.instance;
}

describe('resolveInstance', () => {
  it('layers base < environment < cluster: maps merge by key, lists and scalars replace', () => {
    const a = resolve('production', 'cluster-a');
    const b = resolve('production', 'cluster-b');
    expect(a.domains).toEqual(['shop.example.com']);
    expect(b.domains).toEqual(['shop.example.net']);
    expect(b.envTemplates).toEqual({ APP_ENV: 'production', GREETING: 'hi from cluster-b', NODE: '${host}', PRICE: '$$5', DB_HOST: 'db-b.internal' });
    expect(b.cache).toEqual({ ttl: '5m', pass: ['^/admin'] });
    expect(a.cache).toEqual({ ttl: '60s', pass: ['^/admin'] });
    const staging = resolve('staging', 'cluster-a');
    expect(staging.domains).toEqual(['staging.shop.example.com']);
    expect(staging.envTemplates.APP_ENV).toBe('staging');
    expect(staging.envTemplates.GREETING).toBe('hi from cluster-a');
  });

  it('records the layer and position of every value', () => {
    const b = resolve('production', 'cluster-b');
    expect(b.origins.domains).toMatchObject({ layer: 'clusters.cluster-b', position: { file: 'magrathea.yml', line: 14, col: 14 }, items: [{ line: 14, col: 15 }] });
    expect(b.origins['env.APP_ENV']).toEqual({ layer: 'base', position: { file: 'magrathea.yml', line: 3, col: 17 } });
    expect(b.origins['health.path']).toEqual({ layer: 'default' });
    expect(resolve('staging', 'cluster-a').origins['env.APP_ENV']!.layer).toBe('environments.staging');
  });

  it('puts config vars on top, app-wide then per cluster, taken literally and masked by explain', () => {
    const vars: ConfigVars = { app: { DB_HOST: 'db.internal', SECRET: 'p@ss${app}$' }, clusters: { 'cluster-b': { DB_HOST: 'db-b2.internal' } } };
    const a = resolve('production', 'cluster-a', vars);
    const b = resolve('production', 'cluster-b', vars);
    expect(a.envTemplates.DB_HOST).toBe('db.internal');
    expect(b.envTemplates.DB_HOST).toBe('db-b2.internal');
    expect(b.origins['env.DB_HOST']!.layer).toBe('config vars @cluster-b');
    // A config var is never interpolated: "${app}" stays as typed.
    expect(a.envTemplates.SECRET).toBe('p@ss$${app}$$');
    const shown = explainInstance(a);
    expect(shown.values.find((v) => v.path === 'env.SECRET')!.value).toBe('********');
    expect(shown.text).not.toContain('p@ss');
    expect(explainInstance(a, true).values.find((v) => v.path === 'env.SECRET')!.value).toBe('p@ss${app}$');
  });

  it('refuses config vars that would not be safe in a file', () => {
    const parsed = validateManifest(TEXT, 'magrathea.yml');
    if ('problems' in parsed) throw new Error('bad fixture');
    const result = resolveInstance(parsed.manifest, { app: 'shop', env: 'production', cluster: 'cluster-a' }, { app: { 'BAD-KEY': 'x', OK: 'a\nb' }, clusters: {} });
    expect('problems' in result && result.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/"BAD-KEY" is not a valid variable name/),
      expect.stringMatching(/control character \(newline\)/),
    ]);
  });

  it('checks values again with the real names', () => {
    const long = 'a'.repeat(40);
    const parsed = validateManifest(`domains: ["\${app}.\${env}.\${cluster}.${'b'.repeat(63)}.${'c'.repeat(63)}.example.com"]\nenvironments:\n  ${long}: { branch: master, clusters: [${long}] }\n`, 'magrathea.yml');
    if ('problems' in parsed) throw new Error(parsed.problems.map(formatProblem).join('\n'));
    expect(checkAllInstances(parsed.manifest, long).map(formatProblem)).toEqual([expect.stringMatching(/^magrathea\.yml:1:11: domains\.0: .* is not a valid domain.*\(for a{40}@a{40} in a{40}\)$/)]);
  });

  it('explains the database leaf by leaf: the engine, and each name the manifest gave', () => {
    const parsed = validateManifest('database:\n  engine: mysql\n  vars: { name: DB_NAME, user: DB_USER }\nenvironments:\n  production: { branch: master, clusters: [cluster-a, cluster-b] }\nclusters:\n  cluster-b: { database: { engine: none } }\n', 'magrathea.yml');
    if ('problems' in parsed) throw new Error(parsed.problems.map(formatProblem).join('\n'));
    const explain = (cluster: string) => {
      const result = resolveInstance(parsed.manifest, { app: 'blog', env: 'production', cluster });
      if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
      return Object.fromEntries(explainInstance(result.instance).values.filter((v) => v.path.startsWith('database.')).map((v) => [v.path, v.value]));
    };
    expect(explain('cluster-a')).toEqual({ 'database.engine': 'mysql', 'database.vars.name': 'DB_NAME', 'database.vars.user': 'DB_USER' });
    expect(explain('cluster-b')).toEqual({ 'database.engine': 'none', 'database.vars.name': '', 'database.vars.user': '' });
  });

  it('explains with ${host} still visible, since it differs per host', () => {
    const text = explainInstance(resolve('production', 'cluster-b')).text;
    expect(text).toContain('shop@cluster-b in production (branch master, strategy rolling)');
    expect(text).toMatch(/env\.NODE\s+"\$\{host\}"\s+base\s+magrathea\.yml:3:/);
    expect(text).toMatch(/domains\s+\["shop\.example\.net"\]\s+clusters\.cluster-b\s+magrathea\.yml:14:14/);
  });
});

describe('hooks.timeout and reserved variables', () => {
  const manifest = (extra: string) => validateManifest(`environments:\n  production: { branch: master, clusters: [cluster-a] }\n${extra}`, 'magrathea.yml');

  it('reads hooks.timeout as a duration, in seconds too', () => {
    const parsed = manifest('hooks: { release: "php migrate.php", timeout: 90s }\n');
    if ('problems' in parsed) throw new Error(parsed.problems.map(formatProblem).join('\n'));
    const result = resolveInstance(parsed.manifest, { app: 'shop', env: 'production', cluster: 'cluster-a' });
    expect('instance' in result && result.instance.hooks).toEqual({ release: 'php migrate.php', timeout: '90s', timeoutSeconds: 90 });
  });

  it('reads health.timeout (30s unless said, per cluster too), and refuses one below 1s or above 10m with its line', () => {
    const health = (yaml: string) => {
      const parsed = manifest(yaml);
      if ('problems' in parsed) throw new Error(parsed.problems.map(formatProblem).join('\n'));
      const result = resolveInstance(parsed.manifest, { app: 'shop', env: 'production', cluster: 'cluster-a' });
      return 'instance' in result && result.instance.health;
    };
    expect(health('')).toEqual({ path: '/', status: 200, timeout: '30s', timeoutSeconds: 30 });
    expect(health('clusters:\n  cluster-a: { health: { timeout: 2m } }\n')).toEqual({ path: '/', status: 200, timeout: '2m', timeoutSeconds: 120 });
    for (const [value, why] of [['500ms', 'is not between 1s and 10m'], ['11m', 'is not between 1s and 10m'], ['30', 'is not a duration']]) {
      const bad = manifest(`health: { timeout: "${value}" }\n`);
      expect('problems' in bad && bad.problems.map(formatProblem)).toEqual([`magrathea.yml:3:20: health.timeout: "${value}" ${why}${why === 'is not a duration' ? ': a whole number and a unit (ms, s, m, h, d, w, y), like 120s' : ''}`]);
    }
  });

  it('refuses a variable that changes how programs start, in the manifest (with its line) and in config vars', () => {
    const parsed = manifest('env: { LD_PRELOAD: /tmp/x.so }\n');
    expect('problems' in parsed && parsed.problems.map(formatProblem)).toEqual([expect.stringMatching(/^magrathea\.yml:3:8: .*"LD_PRELOAD" changes how programs start/)]);
    const ok = manifest('');
    if ('problems' in ok) throw new Error('unexpected');
    const result = resolveInstance(ok.manifest, { app: 'shop', env: 'production', cluster: 'cluster-a' }, { app: { BASH_ENV: '/tmp/x' }, clusters: {} });
    expect('problems' in result && result.problems.map((p) => p.message)).toEqual([expect.stringMatching(/"BASH_ENV" changes how programs start/)]);
  });
});

describe('database', () => {
  const resolveText = (text: string, env: string, cluster: string, vars?: ConfigVars) => {
    const parsed = validateManifest(text, 'magrathea.yml');
    if ('problems' in parsed) return parsed.problems.map(formatProblem);
    const result = resolveInstance(parsed.manifest, { app: 'shop', env, cluster }, vars);
    return 'problems' in result ? result.problems.map(formatProblem) : result.instance;
  };
  const ENVS = `environments:
  production: { branch: master, clusters: [cluster-a, cluster-b] }
  staging: { branch: develop, clusters: [cluster-a], database: { engine: none } }
`;

  it('gives each field its default name, or the one the manifest chose, layer by layer', () => {
    const text = `database: { engine: mysql, vars: { name: DB_NAME, user: DB_USER } }\n${ENVS}clusters:\n  cluster-b: { database: { vars: { host: DB_HOSTNAME } } }\n`;
    expect((resolveText(text, 'production', 'cluster-a') as InstanceConfig).database).toEqual({
      engine: 'mysql',
      vars: { url: 'DATABASE_URL', host: 'DB_HOST', port: 'DB_PORT', name: 'DB_NAME', user: 'DB_USER', password: 'DB_PASSWORD' },
    });
    expect((resolveText(text, 'production', 'cluster-b') as InstanceConfig).database?.vars.host).toBe('DB_HOSTNAME');
  });

  it('is absent without an engine, and where a layer says none', () => {
    expect((resolveText(ENVS, 'production', 'cluster-a') as InstanceConfig).database).toBeUndefined();
    expect((resolveText(`database: { engine: mysql }\n${ENVS}`, 'staging', 'cluster-a') as InstanceConfig).database).toBeUndefined();
  });

  it('refuses an unknown engine, a bad variable name, an unknown field, two fields under one name, and a name env sets too', () => {
    expect(resolveText(`database: { engine: postgres }\n${ENVS}`, 'production', 'cluster-a')).toEqual([expect.stringMatching(/^magrathea\.yml:1:\d+: database\.engine: "postgres" is not a database engine; one of: mysql, none/)]);
    expect(resolveText(`database: { engine: mysql, vars: { url: "1X" } }\n${ENVS}`, 'production', 'cluster-a')).toEqual([expect.stringMatching(/^magrathea\.yml:1:\d+: database\.vars\.url: /)]);
    expect(resolveText(`database: { engine: mysql, vars: { socket: X } }\n${ENVS}`, 'production', 'cluster-a')).toEqual([expect.stringMatching(/database\.vars\.socket/)]);
    expect(resolveText(`database: { engine: mysql, vars: { name: DB, user: DB } }\n${ENVS}`, 'production', 'cluster-a')).toEqual([expect.stringMatching(/^magrathea\.yml:1:\d+: database\.vars\.user: "DB" already holds the database's name/)]);
    expect(resolveText(`env: { DB_HOST: x }\ndatabase: { engine: mysql }\n${ENVS}`, 'production', 'cluster-a')).toEqual([expect.stringMatching(/database\.vars\.host: "DB_HOST" is also set by env in base/)]);
    expect(resolveText(`database: { engine: mysql }\n${ENVS}`, 'production', 'cluster-a', { app: { DB_PASSWORD: 'x' }, clusters: {} })).toEqual([expect.stringMatching(/"DB_PASSWORD" is also set by the config vars \(config:unset it\)/)]);
  });
});

describe('diffInstances', () => {
  it('lists only the keys whose values differ, each side with its layer and source; config vars compared revealed, shown masked', () => {
    const vars: ConfigVars = { app: { SHARED: 'same' }, clusters: { 'cluster-a': { SECRET: 'one' }, 'cluster-b': { SECRET: 'two' } } };
    const differences = diffInstances(resolve('production', 'cluster-a', vars), resolve('production', 'cluster-b', vars));
    expect(differences.map((d) => d.path)).toEqual(['domains', 'env.DB_HOST', 'env.GREETING', 'env.SECRET', 'cache.ttl']);
    const [domains, dbHost, , secret] = differences;
    expect(domains!.sides).toEqual([
      { path: 'domains', value: ['shop.example.com'], layer: 'base', source: 'magrathea.yml:2:10' },
      { path: 'domains', value: ['shop.example.net'], layer: 'clusters.cluster-b', source: 'magrathea.yml:14:14' },
    ]);
    expect(dbHost!.sides[0]).toBeUndefined();
    expect(secret!.sides.map((s) => [s!.value, s!.layer])).toEqual([['********', 'config vars @cluster-a'], ['********', 'config vars @cluster-b']]);
    const table = formatDifferences(['shop@cluster-a', 'shop@cluster-b'], differences);
    expect(table).toMatch(/^env\.DB_HOST\s+shop@cluster-a\s+\(not set\)\n\s+shop@cluster-b\s+"db-b\.internal"\s+clusters\.cluster-b\s+magrathea\.yml:15:21\n/m);
    expect(table).not.toMatch(/one|two/);
    expect(diffInstances(resolve('production', 'cluster-a', vars), resolve('production', 'cluster-b', vars), true).find((d) => d.path === 'env.SECRET')!.sides.map((s) => s!.value)).toEqual(['one', 'two']);
    expect(diffInstances(resolve('production', 'cluster-a'), resolve('production', 'cluster-a'))).toEqual([]);
  });
});
