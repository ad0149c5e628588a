import { describe, expect, it } from '@jest/globals';
import { formatProblem } from '../source.js';
import { checkName } from '../values.js';
import { branchInstance, branchSlug, checkBranchPattern, matchesPattern, patternsOverlap, slugOfInstance } from './branch-pattern.js';
import { checkAllInstances, findEnvironment, resolveInstance, targetForBranch } from './resolve.js';
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

const REVIEW = `environments:
  production: { branch: master, clusters: [cluster-a, cluster-b] }
  review:
    branch: "review/*"
    clusters: [cluster-a]
    domains: ["\${branch}.review.\${app}.example.com"]
    env: { BRANCH: "\${branch}" }
`;

describe('branch patterns', () => {
  it('accepts only a prefix and a trailing /*', () => {
    expect(checkBranchPattern('review/*')).toBeUndefined();
    expect(checkBranchPattern('team/review/*')).toBeUndefined();
    for (const bad of ['*', '/*', 'review*', 'review/*/x', 'review/x*', 'review/**', '*/review']) expect(checkBranchPattern(bad)).toMatch(/only a prefix and a trailing/);
  });

  it('matches what follows the prefix, slashes included, never nothing', () => {
    expect(matchesPattern('review/*', 'review/x')).toBe(true);
    expect(matchesPattern('review/*', 'review/a/b')).toBe(true);
    expect(matchesPattern('review/*', 'review/')).toBe(false);
    expect(matchesPattern('review/*', 'review')).toBe(false);
    expect(matchesPattern('review/*', 'reviews/x')).toBe(false);
  });

  it('overlaps when one prefix starts with the other', () => {
    expect(patternsOverlap('review/*', 'review/team/*')).toBe(true);
    expect(patternsOverlap('review/team/*', 'review/*')).toBe(true);
    expect(patternsOverlap('review/*', 'reviews/*')).toBe(false);
    expect(patternsOverlap('review/*', 'feature/*')).toBe(false);
  });
});

describe('branch slugs', () => {
  it('lower-cases, turns every run of other characters into one dash and trims dashes', () => {
    expect(branchSlug('Fix_Login--Page', 33)).toBe('fix-login-page');
    expect(branchSlug('a/b.c', 33)).toBe('a-b-c');
    expect(branchSlug('-x-', 33)).toBe('x');
    expect(branchSlug('123', 33)).toBe('123');
    expect(branchSlug('---', 33)).toBe('');
  });

  it('cuts to the length left by the environment name, without a dash at the cut', () => {
    expect(branchSlug('abcd-efgh', 5)).toBe('abcd');
    const instance = branchInstance('review', 'review/*', `review/${'x'.repeat(100)}`);
    expect(instance).toEqual({ name: `review-${'x'.repeat(33)}`, slug: 'x'.repeat(33) });
  });

  it('always gives a valid name, whatever the branch (hostile ones included)', () => {
    for (const branch of ['review/x', 'review/$(id)', 'review/../x', 'review/A_B', 'review/ÉTÉ-ünïcode', `review/${'a-'.repeat(60)}`, 'review/x;rm -rf /', 'review/9']) {
      const instance = branchInstance('review', 'review/*', branch);
      if ('error' in instance) throw new Error(instance.error);
      expect(checkName(instance.name)).toBeUndefined();
      expect(instance.slug).toMatch(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/);
      expect(slugOfInstance('review', instance.name)).toBe(instance.slug);
    }
  });

  it('refuses a branch with nothing to name its instance by', () => {
    expect(branchInstance('review', 'review/*', 'review/___')).toEqual({ error: expect.stringContaining('has no letter or digit after "review/"') });
  });

  it('two branches may slug alike (the push of the second is refused on the gateway)', () => {
    expect(branchInstance('review', 'review/*', 'review/Foo')).toEqual(branchInstance('review', 'review/*', 'review/foo'));
  });
});

describe('review environments in magrathea.yml', () => {
  it('are accepted, and a branch finds its own instance', () => {
    const m = manifest(REVIEW);
    expect(targetForBranch(m, 'master')).toEqual({ environment: expect.objectContaining({ name: 'production', pattern: false }) });
    const target = targetForBranch(m, 'review/Fix-1');
    expect(target).toEqual({ environment: expect.objectContaining({ name: 'review-fix-1', pattern: true, review: { environment: 'review', slug: 'fix-1' } }) });
    expect(targetForBranch(m, 'develop')).toBeUndefined();
    expect(findEnvironment(m, 'review-fix-1')?.review).toEqual({ environment: 'review', slug: 'fix-1' });
    expect(findEnvironment(m, 'review-')).toBeUndefined();
    expect(findEnvironment(m, 'production-x')).toBeUndefined();
  });

  it('resolve ${branch} to the slug, in domains and env, with layers named as written', () => {
    const m = manifest(REVIEW);
    const result = resolveInstance(m, { app: 'shop', env: 'review-fix-1', cluster: 'cluster-a', branch: 'review/Fix-1' });
    if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
    expect(result.instance.domains).toEqual(['fix-1.review.shop.example.com']);
    expect(result.instance.envTemplates.BRANCH).toBe('fix-1');
    expect(result.instance.branch).toBe('review/Fix-1');
    expect(result.instance.origins.domains?.layer).toBe('environments.review');
  });

  it('a review instance has its own config vars over its environment\'s', () => {
    const m = manifest(REVIEW);
    const vars = { app: { A: 'own' }, clusters: {}, environment: { name: 'review', app: { A: 'shared', B: 'shared' }, clusters: { 'cluster-a': { C: 'shared-a' } } } };
    const result = resolveInstance(m, { app: 'shop', env: 'review-x', cluster: 'cluster-a' }, vars);
    if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
    expect(result.instance.envTemplates).toMatchObject({ A: 'own', B: 'shared', C: 'shared-a' });
    expect(result.instance.origins['env.A']?.layer).toBe('config vars');
    expect(result.instance.origins['env.B']?.layer).toBe('config vars of review');
    expect(result.instance.origins['env.C']?.layer).toBe('config vars of review @cluster-a');
  });

  it('the pattern environment itself is not an instance', () => {
    const result = resolveInstance(manifest(REVIEW), { app: 'shop', env: 'review', cluster: 'cluster-a' });
    expect('problems' in result && result.problems.map(formatProblem)).toEqual([expect.stringMatching(/^magrathea\.yml:3:3: environments\.review: environment "review" is fed by branch pattern "review\/\*": each matching branch/)]);
  });

  it('refuses ${branch} in an environment fed by one branch, at the line that uses it', () => {
    const m = manifest(`domains: ["\${branch}.\${app}.example.com"]\n${REVIEW}`);
    expect(checkAllInstances(m, 'shop').map(formatProblem)).toEqual([
      expect.stringMatching(/^magrathea\.yml:1:11: domains\.0: "\$\{branch\}" cannot be used here: \$\{branch\} is the slug of a review instance's branch.*\(for shop@cluster-a in production\)$/),
      expect.stringMatching(/^magrathea\.yml:1:11: domains\.0: .*\(for shop@cluster-b in production\)$/),
    ]);
  });

  it('checks the pushed branch\'s own instance: a slug too long for a domain label is reported', () => {
    const m = manifest(REVIEW.replace('${branch}.review', '${branch}${branch}'));
    expect(checkAllInstances(m, 'shop', undefined, 'review/ok')).toEqual([]);
    const long = `review/${'a'.repeat(40)}`;
    expect(checkAllInstances(m, 'shop', undefined, long).map(formatProblem)).toEqual([expect.stringMatching(/^magrathea\.yml:6:15: domains\.0: "a{57}\.\.\." is not a valid domain.*\(for shop@cluster-a in review-a{33}\)$/)]);
  });

  it('report a bad pattern, overlaps and names like an instance at their line and column', () => {
    const base = 'environments:\n  production: { branch: master, clusters: [a] }\n';
    expect(problems(`${base}  review: { branch: "review*", clusters: [a] }\n`)).toEqual([expect.stringMatching(/^magrathea\.yml:3:21: environments\.review\.branch: "review\*" is not a branch pattern Magrathea accepts: only a prefix and a trailing "\/\*"/)]);
    expect(problems(`${base}  review: { branch: "*", clusters: [a] }\n`)).toEqual([expect.stringMatching(/^magrathea\.yml:3:21: .*only a prefix/)]);
    expect(problems(`${base}  review: { branch: "re\\"v/*", clusters: [a] }\n`)).toEqual([expect.stringMatching(/^magrathea\.yml:3:21: .*the part before "\/\*" is not a valid branch name/)]);
    expect(problems(`${base}  review: { branch: "review/*", clusters: [a] }\n  team: { branch: "review/team/*", clusters: [a] }\n`)).toEqual([
      'magrathea.yml:4:19: environments.team.branch: pattern "review/team/*" overlaps "review/*" of environment "review": a branch may match only one pattern',
    ]);
    expect(problems(`${base}  review: { branch: "review/*", clusters: [a] }\n  demo: { branch: review/demo, clusters: [a] }\n`)).toEqual([
      'magrathea.yml:4:19: environments.demo.branch: branch "review/demo" is also matched by pattern "review/*" of environment "review": a push must map to one environment',
    ]);
    expect(problems(`environments:\n  demo: { branch: review/demo, clusters: [a] }\n  review: { branch: "review/*", clusters: [a] }\n`)).toEqual([
      'magrathea.yml:3:21: environments.review.branch: pattern "review/*" also matches branch "review/demo", which feeds environment "demo": a push must map to one environment',
    ]);
    expect(problems(`${base}  review: { branch: "review/*", clusters: [a] }\n  review-x: { branch: x, clusters: [a] }\n`)).toEqual([
      'magrathea.yml:4:3: environments.review-x: environment "review-x" is named like an instance of pattern environment "review" (its branches\' instances are review-<slug>): rename one',
    ]);
    expect(problems(`${base}  ${'r'.repeat(31)}: { branch: "review/*", clusters: [a] }\n`)).toEqual([expect.stringMatching(/^magrathea\.yml:3:3: .*may be at most 30 characters/)]);
  });
});
