import { randomBytes, timingSafeEqual } from 'node:crypto';

/** One browser's login: the token it was opened with (kept here, in the gateway's memory only) and its CSRF token. */
export interface DashboardSession {
  id: string;
  /** The API token given at login: checked again at each request, so a revoked or expired token ends the session. */
  token: string;
  /** Sent back with every state-changing request (a form field or the X-CSRF-Token header). */
  csrf: string;
  createdAt: number;
  seenAt: number;
}

export interface DashboardSessionsOptions {
  /** A session unused this long ends. Default 8 hours. */
  idleMs?: number;
  /** A session ends this long after its login, used or not. Default 24 hours. */
  maxAgeMs?: number;
  /** Sessions kept at most; the least recently used goes first. Default 10,000. */
  max?: number;
}

const ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * The dashboard's sessions: a random id in the browser's cookie, the
 * token on the gateway. Kept in memory: a restarted gateway asks everyone
 * to log in again, and the cookie alone never carries the token.
 */
export class DashboardSessions {
  private readonly sessions = new Map<string, DashboardSession>();
  private readonly idleMs: number;
  private readonly maxAgeMs: number;
  private readonly max: number;

  constructor(options: DashboardSessionsOptions = {}) {
    this.idleMs = options.idleMs ?? 8 * 3600_000;
    this.maxAgeMs = options.maxAgeMs ?? 24 * 3600_000;
    this.max = options.max ?? 10_000;
  }

  open(token: string, now = Date.now()): DashboardSession {
    const session = { id: randomBytes(32).toString('base64url'), token, csrf: randomBytes(32).toString('base64url'), createdAt: now, seenAt: now };
    this.sessions.set(session.id, session);
    // A Map iterates in insertion order, and find() re-inserts: the first is the least recently used.
    while (this.sessions.size > this.max) this.sessions.delete(this.sessions.keys().next().value!);
    return session;
  }

  /** The live session of a cookie's id, marked used; undefined for an unknown, malformed or ended one. */
  find(id: string | undefined, now = Date.now()): DashboardSession | undefined {
    if (id === undefined || !ID.test(id)) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (now - session.seenAt > this.idleMs || now - session.createdAt > this.maxAgeMs) {
      this.sessions.delete(id);
      return undefined;
    }
    session.seenAt = now;
    this.sessions.delete(id);
    this.sessions.set(id, session);
    return session;
  }

  end(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** Whether `given` is the session's CSRF token, compared in constant time. */
export function csrfMatches(session: DashboardSession, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
