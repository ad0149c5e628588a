import { describe, expect, it } from '@jest/globals';
import { csrfMatches, DashboardSessions } from './sessions.js';

describe('dashboard sessions', () => {
  it('finds a session by its random id only, never by the token', () => {
    const sessions = new DashboardSessions();
    const session = sessions.open('mg_token', 0);
    expect(session.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.id).not.toContain('mg_token');
    expect(sessions.find(session.id, 1)?.token).toBe('mg_token');
    for (const forged of [undefined, '', 'mg_token', 'A'.repeat(43), `${session.id}x`]) expect(sessions.find(forged, 1)).toBeUndefined();
  });

  it('ends a session unused for idleMs, or older than maxAgeMs, and at logout', () => {
    const sessions = new DashboardSessions({ idleMs: 10, maxAgeMs: 25 });
    const idle = sessions.open('t', 0);
    expect(sessions.find(idle.id, 11)).toBeUndefined();
    const busy = sessions.open('t', 0);
    for (const at of [5, 10, 15, 20, 25]) expect(sessions.find(busy.id, at)).toBeDefined();
    expect(sessions.find(busy.id, 26)).toBeUndefined();
    const out = sessions.open('t', 0);
    sessions.end(out.id);
    expect(sessions.find(out.id, 1)).toBeUndefined();
  });

  it('keeps at most max sessions, dropping the least recently used', () => {
    const sessions = new DashboardSessions({ max: 2 });
    const [a, b] = [sessions.open('a', 0), sessions.open('b', 0)];
    sessions.find(a.id, 1);
    const c = sessions.open('c', 2);
    expect(sessions.size).toBe(2);
    expect(sessions.find(b.id, 3)).toBeUndefined();
    expect(sessions.find(a.id, 3)).toBeDefined();
    expect(sessions.find(c.id, 3)).toBeDefined();
  });

  it("matches the session's CSRF token exactly", () => {
    const session = new DashboardSessions().open('t');
    expect(csrfMatches(session, session.csrf)).toBe(true);
    for (const wrong of [undefined, '', session.csrf.slice(1), `${session.csrf}x`, new DashboardSessions().open('t').csrf]) expect(csrfMatches(session, wrong)).toBe(false);
  });
});
