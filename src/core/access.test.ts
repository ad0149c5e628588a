import { describe, expect, it } from '@jest/globals';
import { authorize, globMatches } from './access.js';

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
