import { describe, expect, it } from '@jest/globals';
import { formatProblem } from '../source.js';
import { resolveInstance } from './resolve.js';
import { validateManifest } from './validate.js';

function problems(text: string): string[] {
  const result = validateManifest(text, 'magrathea.yml');
  return 'problems' in result ? result.problems.map(formatProblem) : [];
}

function manifest(text: string) {
  const result = validateManifest(text, 'magrathea.yml');
  if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.manifest;
}

const ENVS = 'environments:\n  production: { branch: master, clusters: [cluster-a, cluster-b] }\n';

describe('validateManifest', () => {
  it('accepts a minimal manifest', () => {
    expect(problems(ENVS)).toEqual([]);
  });

  it('points at the line and column of a bad value', () => {
    expect(problems(`domains:\n  - ok.example.com\n  - "bad domain.com"\n${ENVS}`)).toEqual([
      'magrathea.yml:3:5: domains.1: "bad domain.com" is not a valid domain: expected a host name like app.example.com (a-z, 0-9, dashes, dots; no port, no scheme)',
    ]);
  });

  it('points at the key of an unknown key, naming the allowed ones', () => {
    const [problem] = problems(`stack:\n  php: "8.2"\n  docrot: public\n${ENVS}`);
    expect(problem).toBe('magrathea.yml:3:3: stack.docrot: unknown key "docrot"; expected one of: php, docroot');
  });

  it('reports YAML syntax errors with their position', () => {
    expect(problems('env: { A: 1\n')).toEqual([expect.stringMatching(/^magrathea\.yml:\d+:\d+: /)]);
    expect(problems('env:\n  A: 1\n  A: 2\n' + ENVS)[0]).toMatch(/^magrathea\.yml:3:3: Map keys must be unique/);
  });

  it('reports every problem, not only the first', () => {
    const found = problems(`stack: { php: "8" }\nhealth: { status: "999" }\ncache: { ttl: soon }\n${ENVS}`);
    expect(found).toHaveLength(3);
    expect(found[0]).toMatch(/^magrathea\.yml:1:15: stack\.php: "8" is not a PHP version/);
    expect(found[1]).toMatch(/^magrathea\.yml:2:19: health\.status: "999" is not a whole number between 100 and 599/);
    expect(found[2]).toMatch(/^magrathea\.yml:3:15: cache\.ttl: "soon" is not a duration/);
  });

  it('requires environments, each with a branch and clusters', () => {
    expect(problems('domains: [a.example.com]\n')[0]).toMatch(/missing required key "environments"/);
    expect(problems('environments:\n  production: { clusters: [a] }\n')).toEqual(['magrathea.yml:2:15: environments.production: missing required key "branch"']);
    expect(problems('environments:\n  production: { branch: master, clusters: [] }\n')[0]).toMatch(/at least one cluster/);
  });

  it('refuses two environments fed by one branch', () => {
    expect(problems('environments:\n  a: { branch: master, clusters: [x] }\n  b: { branch: master, clusters: [x] }\n')[0]).toMatch(
      /^magrathea\.yml:3:16: environments\.b\.branch: branch "master" already feeds environment "a"/,
    );
  });

  it('refuses build commands per cluster, and overrides of clusters no environment uses', () => {
    const found = problems(`${ENVS}clusters:\n  cluster-b: { build: [make] }\n  cluster-z: { env: { A: b } }\n`);
    expect(found).toEqual([
      expect.stringMatching(/^magrathea\.yml:4:16: clusters\.cluster-b\.build: build runs once per deploy/),
      expect.stringMatching(/^magrathea\.yml:5:3: clusters\.cluster-z: cluster "cluster-z" is in no environment's clusters list/),
    ]);
  });

  it('reads every value as text: 8.10 stays 8.10, NO stays NO', () => {
    const m = manifest(`stack: { php: 8.10 }\nenv: { FLAG: NO, N: 010 }\n${ENVS}`);
    const result = resolveInstance(m, { app: 'shop', env: 'production', cluster: 'cluster-a' });
    if (!('instance' in result)) throw new Error('expected an instance');
    expect(result.instance.php).toBe('8.10');
    expect(result.instance.envTemplates).toEqual({ FLAG: 'NO', N: '010' });
  });

  it('refuses a YAML alias bomb', () => {
    const letters = 'abcdefgh';
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < letters.length; i++) bomb.push(`${letters[i]}: &${letters[i]} [${Array(9).fill(`*${letters[i - 1]}`).join(', ')}]`);
    expect(problems(bomb.join('\n'))[0]).toMatch(/^magrathea\.yml:1:1: .*alias/i);
  });
});
