import { describe, expect, it } from '@jest/globals';
import { authorize, authorizeDeploy, domainMatches, globMatches, parseScopes, scopeAllows } from './access.js';

const bob = { name: 'bob', role: 'member' as const, apps: ['shop-*', 'blog'], verbs: ['deploy' as const, 'logs' as const] };
const alice = { name: 'alice', role: 'admin' as const, apps: ['*'], verbs: [] };

describe('authorize', () => {
  it('gives admins everything', () => {
    expect(authorize(alice, 'admin')).toEqual({ ok: true });
    expect(authorize(alice, 'shell', 'anything')).toEqual({ ok: true });
  });

  it('gives members their apps and verbs only', () => {
    expect(authorize(bob, 'deploy', 'shop-eu')).toEqual({ ok: true });
    expect(authorize(bob, 'read', 'blog')).toEqual({ ok: true });
    expect(authorize(bob, 'shell', 'shop-eu')).toEqual({ ok: false, reason: 'bob may not shell shop-eu' });
    expect(authorize(bob, 'deploy', 'wiki')).toEqual({ ok: false, reason: 'bob has no access to app wiki' });
    expect(authorize(bob, 'read', 'blog2')).toEqual({ ok: false, reason: 'bob has no access to app blog2' });
    expect(authorize(bob, 'admin')).toEqual({ ok: false, reason: 'bob is not an admin' });
  });

  it('matches globs on whole names', () => {
    expect(globMatches('shop-*', 'shop-')).toBe(true);
    expect(globMatches('shop-*', 'myshop-eu')).toBe(false);
    expect(globMatches('a?c', 'abc')).toBe(true);
    expect(globMatches('a?c', 'abbc')).toBe(false);
  });
});

describe('authorizeDeploy', () => {
  const carol = { name: 'carol', role: 'member' as const, clusters: ['cluster-a', 'eu-*'], domains: ['${app}.example.com', '*.shop.example.com'] };

  it('lets a member deploy to its clusters with its domains only', () => {
    expect(authorizeDeploy(carol, 'blog', [{ cluster: 'cluster-a', domains: ['blog.example.com'] }, { cluster: 'eu-1', domains: ['x.shop.example.com'] }])).toEqual({ ok: true });
    expect(authorizeDeploy(carol, 'blog', [{ cluster: 'cluster-b', domains: [] }])).toEqual({ ok: false, reason: 'carol may not deploy to cluster cluster-b (users.yml: carol.clusters is cluster-a, eu-*)' });
    expect(authorizeDeploy(carol, 'blog', [{ cluster: 'cluster-a', domains: ['blog.example.com', 'shop.example.com'] }])).toMatchObject({ ok: false, reason: expect.stringMatching(/^carol may not claim the domain shop\.example\.com for blog/) });
    expect(authorizeDeploy({ ...carol, clusters: [], domains: [] }, 'blog', [{ cluster: 'cluster-a', domains: [] }])).toMatchObject({ ok: false, reason: expect.stringMatching(/clusters is not set/) });
  });

  it('lets admins deploy anywhere', () => {
    expect(authorizeDeploy({ name: 'alice', role: 'admin', clusters: [], domains: [] }, 'x', [{ cluster: 'any', domains: ['any.example.org'] }])).toEqual({ ok: true });
  });
});

describe('domainMatches', () => {
  it('reads * as any part and ${app} as the app name, on whole domains', () => {
    expect(domainMatches('${app}.example.com', 'shop', 'shop.example.com')).toBe(true);
    expect(domainMatches('${app}.example.com', 'shop', 'blog.example.com')).toBe(false);
    expect(domainMatches('${app}.example.com', 'shop', 'shopXexample.com')).toBe(false);
    expect(domainMatches('*.example.com', 'shop', 'a.b.example.com')).toBe(true);
    expect(domainMatches('*.example.com', 'shop', 'example.com')).toBe(false);
    expect(domainMatches('*.example.com', 'shop', 'evil-example.com')).toBe(false);
    expect(domainMatches('*', 'shop', 'anything.org')).toBe(true);
  });
});

describe('token scopes', () => {
  it('parses a list of needs, releases meaning read, each once and in one order; names a wrong word', () => {
    expect(parseScopes('deploy,releases')).toEqual(['read', 'deploy']);
    expect(parseScopes('rollback, read,deploy,read')).toEqual(['read', 'deploy', 'rollback']);
    expect(parseScopes('deploy,root')).toEqual({ error: '"root" is not a scope; scopes: read, deploy, config, logs, shell, rollback, admin (releases: read)' });
    expect(parseScopes('')).toEqual({ error: '"" is not a scope; scopes: read, deploy, config, logs, shell, rollback, admin (releases: read)' });
  });

  it('lets a command run when its need is in scope; help and whoami always; token commands never', () => {
    const scopes = ['read', 'deploy'] as const;
    expect(scopeAllows(scopes, { name: 'deploy', need: 'deploy' })).toEqual({ ok: true });
    expect(scopeAllows(scopes, { name: 'releases', need: 'read' })).toEqual({ ok: true });
    expect(scopeAllows(scopes, { name: 'whoami', need: 'none' })).toEqual({ ok: true });
    expect(scopeAllows(['read'], { name: 'deploy', need: 'deploy' })).toEqual({ ok: false, reason: 'this token is scoped to read: deploy needs the deploy scope' });
    expect(scopeAllows(scopes, { name: 'tokens:create', need: 'none' })).toEqual({ ok: false, reason: 'this token is scoped to read, deploy: tokens:create needs an unscoped token' });
    expect(scopeAllows(scopes, { name: 'apps:create', need: 'admin' })).toMatchObject({ ok: false });
  });
});
