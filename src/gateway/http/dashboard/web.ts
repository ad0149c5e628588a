import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The dashboard's HTTP parts: its security headers, its cookie, and the
 * same-origin check of state-changing requests.
 */

/** The session cookie's name; it is sent only to the dashboard's paths. */
export const SESSION_COOKIE = 'magrathea_session';
export const DASHBOARD_PATH = '/dashboard';

/**
 * Every answer of the dashboard: scripts and styles of its own only (no
 * inline script, so injected markup cannot run), never in a frame, types
 * as declared, no referrer to other sites, nothing cached.
 */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // Not no-referrer: with it, Chromium sends `Origin: null` on a same-origin form POST, which the same-origin check must refuse.
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
}

/** A cookie of the request, or undefined. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The Set-Cookie of a session (or, with no id, the one that clears it):
 * HttpOnly (no script reads it), SameSite=Strict (no other site's page
 * sends it), only under /dashboard (the API and git never see it), Secure
 * when the request came through a TLS proxy that says so.
 */
export function sessionCookie(req: IncomingMessage, id: string | undefined): string {
  const secure = req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${id ?? ''}; Path=${DASHBOARD_PATH}; HttpOnly; SameSite=Strict${id ? '' : '; Max-Age=0'}${secure}`;
}

/**
 * Whether a request comes from a page of this origin: the browser's
 * Sec-Fetch-Site says same-origin, and its Origin, when sent, names the
 * host the request was sent to. A request with neither is refused: every
 * browser the dashboard supports sends one of them with a POST. Behind a
 * proxy, the proxy must pass the Host header on.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return site === 'same-origin';
  const host = req.headers.host;
  if (!host) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** A form's fields (application/x-www-form-urlencoded), read up to `max` bytes; undefined for another type or a longer body. */
export async function readForm(req: IncomingMessage, max = 4096): Promise<URLSearchParams | undefined> {
  if (!/^application\/x-www-form-urlencoded\b/.test(req.headers['content-type'] ?? '')) return undefined;
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html), ...headers });
  res.end(html);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** 303 See Other: after a form, the browser GETs `to`. */
export function redirect(res: ServerResponse, to: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { Location: to, 'Content-Length': 0, ...headers });
  res.end();
}
