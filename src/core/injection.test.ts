import { describe, expect, it } from '@jest/globals';
import { validateGatewayConfig } from './config/validate.js';
import { formatProblem } from './source.js';
import { validateManifest } from './manifest/validate.js';
import { checkAllInstances } from './manifest/resolve.js';

/**
 * Injection attempts, for every manifest field whose value reaches a rendered
 * file. Each must be refused with a problem at the line and column of the
 * value, before anything is rendered. (Env values are the exception by
 * design: any printable text is allowed and written in FPM's literal quoting;
 * test/host-config proves through php-fpm itself that such values come back
 * unchanged. Only control characters are refused there.)
 */
const ATTEMPTS: Record<string, string> = {
  newline: 'a\nb',
  'carriage return': 'a\rb',
  NUL: 'a\u0000b',
  'double quote': 'a"b',
  'single quote': "a'b",
  'trailing backslash': 'ab\\',
  'template injection': '${evil}',
  'shell variable': '$HOME',
  hash: 'a#b',
  semicolon: 'a;b',
  space: 'a b',
  'dot dot': '../etc',
  overlong: 'a'.repeat(5000),
};

/** Where a value goes in a manifest, as YAML with the value (JSON-quoted, which YAML reads) in place of VALUE. */
const FIELDS: Record<string, { yaml: string; line: number; skip?: string[] }> = {
  domain: { yaml: 'domains: [VALUE]', line: 1 },
  'stack.php': { yaml: 'stack: { php: VALUE }', line: 1 },
  'stack.docroot': { yaml: 'stack: { docroot: VALUE }', line: 1 },
  shared: { yaml: 'shared: [VALUE]', line: 1 },
  'cache.ttl': { yaml: 'cache: { ttl: VALUE }', line: 1 },
  // A URL regex may hold $, #, ;, ', spaces and \ (they mean something to PCRE and are inert in a VCL string).
  'cache.pass': { yaml: 'cache: { pass: [VALUE] }', line: 1, skip: ['single quote', 'trailing backslash', 'template injection', 'shell variable', 'hash', 'semicolon', 'space', 'dot dot'] },
  'health.path': { yaml: 'health: { path: VALUE }', line: 1 },
  'health.status': { yaml: 'health: { status: VALUE }', line: 1 },
  // Reaches the host agent's argv (the deploy's check), not a file.
  'health.timeout': { yaml: 'health: { timeout: VALUE }', line: 1 },
  'env key': { yaml: 'env: { VALUE: x }', line: 1 },
  'env value': { yaml: 'env: { K: VALUE }', line: 1, skip: ['double quote', 'single quote', 'trailing backslash', 'shell variable', 'hash', 'semicolon', 'space', 'dot dot'] },
  'environment name': { yaml: 'environments:\n  VALUE: { branch: x, clusters: [c] }', line: 2 },
  branch: { yaml: 'environments:\n  e: { branch: VALUE, clusters: [c] }', line: 2 },
  'cluster name': { yaml: 'environments:\n  e: { branch: x, clusters: [VALUE] }', line: 2 },
  'hooks.release': { yaml: 'hooks: { release: VALUE }', line: 1, skip: ['double quote', 'single quote', 'trailing backslash', 'template injection', 'shell variable', 'hash', 'semicolon', 'space', 'dot dot'] },
};

const ENVS = '\nenvironments:\n  production: { branch: master, clusters: [cluster-a] }\n';

describe('injection corpus: the manifest', () => {
  for (const [field, { yaml, line, skip }] of Object.entries(FIELDS)) {
    for (const [attempt, value] of Object.entries(ATTEMPTS)) {
      if (skip?.includes(attempt)) continue;
      it(`${field}: ${attempt} is refused at its line`, () => {
        const text = yaml.replace('VALUE', JSON.stringify(value)) + (yaml.includes('environments') ? '\n' : ENVS);
        const result = validateManifest(text, 'magrathea.yml');
        const problems = 'problems' in result ? result.problems : checkAllInstances(result.manifest, 'app');
        expect(problems.length).toBeGreaterThan(0);
        expect(problems.some((p) => p.line === line)).toBe(true);
        for (const p of problems) expect(formatProblem(p)).toMatch(/^magrathea\.yml:\d+:\d+: \S/);
      });
    }
  }

  it('allows ${app}, ${env}, ${cluster} where they make valid values, and ${host} only in env values', () => {
    const ok = validateManifest('domains: ["${app}.${cluster}.example.com"]\nenv: { N: "${host}" }' + ENVS, 'm.yml');
    expect('manifest' in ok).toBe(true);
    const bad = validateManifest('domains: ["${host}.example.com"]' + ENVS, 'm.yml');
    expect('problems' in bad && bad.problems.map(formatProblem)).toEqual([expect.stringMatching(/^m\.yml:1:11: domains\.0: .*\$\{host\}.* env values only/)]);
  });

  it('refuses an empty env value, which PHP-FPM cannot pass', () => {
    const result = validateManifest('env:\n  EMPTY: ""' + ENVS, 'm.yml');
    expect('problems' in result && result.problems.map(formatProblem)).toEqual([expect.stringMatching(/^m\.yml:2:10: env\.EMPTY: value is empty/)]);
  });

  it('refuses an app, environment or cluster name of 41 characters, and one ending with a dash', () => {
    for (const name of ['a'.repeat(41), 'shop-', 'sh--op', 'Shop', '1shop']) {
      const result = validateManifest(`environments:\n  ${name}: { branch: x, clusters: [c] }\n`, 'm.yml');
      expect('problems' in result).toBe(true);
    }
  });
});

describe('injection corpus: the gateway configuration', () => {
  const cluster = (hosts: string, extra = '') => `c1:\n${extra}  hosts:\n${hosts}\n`;
  const good = '    w1: { address: 127.0.1.1, roles: [web] }\n    e1: { address: 127.0.1.2, roles: [cache, balancer] }';
  const cases: Record<string, string> = {
    'host name with a quote': cluster(good + '\n    "w\\"2": { address: 127.0.1.3, roles: [web] }'),
    'address with a newline': cluster(good + '\n    w2: { address: "127.0.1.3\\nbackend x", roles: [web] }'),
    'address as a DNS name': cluster(good + '\n    w2: { address: web2.example.com, roles: [web] }'),
    'unknown role': cluster(good + '\n    w2: { address: 127.0.1.3, roles: [web, mail] }'),
    'path with dot dot': cluster(good, '  paths: { apps: /var/www/../../etc }\n'),
    'path with a space': cluster(good, '  paths: { logs: "/var/log/my logs" }\n'),
    'port out of range': cluster(good, '  ports: { web: 70000 }\n'),
    'command with a newline': cluster(good, '  commands: { apache: { reload: ["apache2ctl", "graceful\\nrm -rf /"] } }\n'),
    'unknown placeholder': cluster(good, '  commands: { apache: { reload: ["apache2ctl", "{evil}"] } }\n'),
  };
  for (const [name, text] of Object.entries(cases)) {
    it(`${name} is refused with file:line:col`, () => {
      const result = validateGatewayConfig('/etc/magrathea', { 'clusters.yml': text });
      expect('problems' in result).toBe(true);
      if ('problems' in result) expect(formatProblem(result.problems[0]!)).toMatch(/^\/etc\/magrathea\/clusters\.yml:\d+:\d+: /);
    });
  }
  it('accepts the good cluster', () => {
    expect('config' in validateGatewayConfig('/etc/magrathea', { 'clusters.yml': cluster(good) })).toBe(true);
  });
});
