import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { UserConfig } from '../../../core/config/types.js';
import { RateLimit } from '../../../core/rate.js';
import type { ApiToken } from '../../../state/api-tokens.js';
import { appPage, appsPage, errorPage, loginPage } from './pages.js';
import { csrfMatches, type DashboardSession, type DashboardSessions } from './sessions.js';
import { DASHBOARD_PATH, readCookie, readForm, redirect, sameOrigin, sendHtml, sendJson, sessionCookie, SESSION_COOKIE, setSecurityHeaders } from './web.js';

/** Who a token acts as. */
export interface DashboardAuth {
  user: UserConfig;
  token: ApiToken;
}

/** What the dashboard uses of the API server it is part of (server.ts builds it). */
export interface DashboardContext {
  sessions: DashboardSessions;
  /** Login attempts per client address (LOGINS_PER_MINUTE). */
  logins: RateLimit;
  /** The token checked exactly as the API checks a bearer token (unknown, revoked, expired, its user gone); null: none given. */
  authenticate(token: string | null): Promise<DashboardAuth | { refused: string; error: string; user?: string }>;
  /** An entry of the audit log (logins, refusals). */
  record(user: string, command: string, from: string, refused?: string): void;
  /** Answers `url` (a path of /v1) as the API answers it for this token: the same route, access checks, rate limit and audit. */
  api(auth: DashboardAuth, from: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
  /** Why the caller may not open the app's page (as GET /v1/apps/APP would answer), or undefined. */
  checkApp(auth: DashboardAuth, from: string, app: string): { status: number; error: string } | undefined;
}

/** The API routes the dashboard's pages call, through their session: what they show (logs and a deploy followed as Server-Sent Events), a deploy and a rollback. Never `reveal`. */
const API_ALLOWED: [method: string, path: RegExp][] = [
  ['GET', /^\/v1\/apps$/],
  ['GET', /^\/v1\/apps\/[a-z][a-z0-9-]{0,39}(\/(releases|usage|config|logs|deploys|db))?$/],
  // One deploy followed (Server-Sent Events); the API says what is wrong with an id that is not one.
  ['GET', /^\/v1\/apps\/[a-z][a-z0-9-]{0,39}\/deploys\/[^/]{1,200}$/],
  ['POST', /^\/v1\/apps\/[a-z][a-z0-9-]{0,39}\/(rollback|deploy)$/],
];

const API_PREFIX = `${DASHBOARD_PATH}/api`;
const APP_PAGE = /^\/dashboard\/apps\/([a-z][a-z0-9-]{0,39})$/;
const ASSET = /^\/dashboard\/assets\/((?:vendor\/)?[A-Za-z0-9-]+(?:\.[a-z0-9]+)*\.(js|css))$/;
const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
/** Login attempts per client address and minute, before it waits: a token cannot be guessed faster. */
export const LOGINS_PER_MINUTE = 10;

/** Whether the dashboard answers this path: `/`, `/dashboard` and under it. Everything else (the API under /v1, git) is not its. */
export function isDashboardPath(pathname: string): boolean {
  return pathname === '/' || pathname === DASHBOARD_PATH || pathname.startsWith(`${DASHBOARD_PATH}/`);
}

/**
 * The web dashboard: a login with an API token, which opens a session (a
 * random id in an HttpOnly, SameSite=Strict cookie; the token stays on the
 * gateway), then pages whose modules call the API's own routes under
 * /dashboard/api/v1/..., as the session's token. GET never changes
 * anything; a POST needs a same-origin request and the session's CSRF
 * token.
 */
export async function serveDashboard(ctx: DashboardContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  setSecurityHeaders(res);
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const from = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
  if (path === '/' || path === DASHBOARD_PATH) return redirect(res, `${DASHBOARD_PATH}/`);
  if (path.startsWith(`${DASHBOARD_PATH}/assets/`)) return serveAsset(req, res, path);
  if (path === `${DASHBOARD_PATH}/login`) {
    if (method === 'GET') return sendHtml(res, 200, loginPage());
    if (method === 'POST') return login(ctx, req, res, from);
    return sendHtml(res, 405, errorPage('Not allowed', `${method} is not allowed here`), { Allow: 'GET, POST' });
  }

  const isApi = path.startsWith(`${API_PREFIX}/`);
  const signedIn = await findSession(ctx, req, res);
  if (!signedIn) {
    if (isApi) return sendJson(res, 401, { error: 'not logged in to the dashboard (or the session ended): log in again' });
    if (method === 'GET') return redirect(res, `${DASHBOARD_PATH}/login`);
    return sendHtml(res, 401, errorPage('Not logged in', 'Log in first.'));
  }
  const { session, auth } = signedIn;
  const user = auth.user.name;

  if (method !== 'GET' && method !== 'HEAD') {
    if (!sameOrigin(req)) {
      ctx.record(user, `dashboard: ${method} ${path}`, from, 'cross-site');
      return refuse(res, isApi, 403, 'refused: this request does not come from a page of the dashboard (Origin / Sec-Fetch-Site)', user, session);
    }
    // The API's bodies are JSON: the token comes in a header; a form (logout) carries it as a field.
    const given = isApi ? headerValue(req, 'x-csrf-token') : (await readForm(req))?.get('csrf') ?? undefined;
    if (!csrfMatches(session, given)) {
      ctx.record(user, `dashboard: ${method} ${path}`, from, 'csrf');
      return refuse(res, isApi, 403, "refused: the request lacks this session's CSRF token (reload the page)", user, session);
    }
  }

  if (isApi) {
    const apiPath = path.slice(API_PREFIX.length);
    if (!API_ALLOWED.some(([m, p]) => m === method && p.test(apiPath))) return sendJson(res, 404, { error: `the dashboard does not call ${method} ${apiPath}` });
    if (url.searchParams.has('reveal')) return sendJson(res, 400, { error: 'the dashboard never shows config vars: ssh magrathea config:show APP --reveal does' });
    return ctx.api(auth, from, req, res, new URL(`${apiPath}${url.search}`, url));
  }
  if (path === `${DASHBOARD_PATH}/logout` && method !== 'POST') return sendHtml(res, 405, errorPage('Not allowed', 'logging out is a POST (the button)', user, session.csrf), { Allow: 'POST' });
  if (path === `${DASHBOARD_PATH}/logout`) {
    ctx.sessions.end(session.id);
    ctx.record(user, 'dashboard: logout', from);
    return redirect(res, `${DASHBOARD_PATH}/login`, { 'Set-Cookie': sessionCookie(req, undefined) });
  }
  if (method !== 'GET' && method !== 'HEAD') return sendHtml(res, 405, errorPage('Not allowed', `${method} is not allowed on ${path}`, user, session.csrf));
  if (path === `${DASHBOARD_PATH}/`) return sendHtml(res, 200, appsPage(user, session.csrf));
  const app = APP_PAGE.exec(path)?.[1];
  if (app !== undefined) {
    const refused = ctx.checkApp(auth, from, app);
    if (refused) return sendHtml(res, refused.status, errorPage(refused.status === 404 ? 'No such app' : 'Not allowed', refused.error, user, session.csrf));
    return sendHtml(res, 200, appPage(user, session.csrf, app));
  }
  return sendHtml(res, 404, errorPage('Not found', `no page ${path}`, user, session.csrf));
}

/** The session of the request's cookie, with its token checked again now; an ended one clears its cookie. */
async function findSession(ctx: DashboardContext, req: IncomingMessage, res: ServerResponse): Promise<{ session: DashboardSession; auth: DashboardAuth } | undefined> {
  const id = readCookie(req, SESSION_COOKIE);
  if (id === undefined) return undefined;
  const session = ctx.sessions.find(id);
  const auth = session ? await ctx.authenticate(session.token) : undefined;
  if (session && auth && !('refused' in auth)) return { session, auth };
  // A revoked or expired token, a user gone from users.yml, or a cookie of no session: the cookie is cleared, a new login is needed.
  if (session) ctx.sessions.end(session.id);
  res.setHeader('Set-Cookie', sessionCookie(req, undefined));
  return undefined;
}

async function login(ctx: DashboardContext, req: IncomingMessage, res: ServerResponse, from: string): Promise<void> {
  // A login from another site's page would log the browser in as someone else (login CSRF).
  if (!sameOrigin(req)) return sendHtml(res, 403, loginPage('refused: this login does not come from the login page of this gateway'));
  // Counted before the token is looked at: over the limit, nothing is checked.
  const address = req.socket.remoteAddress ?? '-';
  const wait = ctx.logins.take(address, Date.now());
  if (wait > 0) {
    ctx.record('-', 'dashboard: login', from, 'dashboard-logins-per-minute');
    return sendHtml(res, 429, loginPage(`more than ${LOGINS_PER_MINUTE} logins from ${address} in a minute; retry in ${wait} s`), { 'Retry-After': String(wait) });
  }
  const form = await readForm(req);
  const token = form?.get('token')?.trim() ?? '';
  const auth = await ctx.authenticate(token === '' ? null : token);
  if ('refused' in auth) {
    ctx.record(auth.user ?? '-', 'dashboard: login', from, auth.refused);
    return sendHtml(res, 401, loginPage(token === '' ? 'a token is needed' : auth.error));
  }
  const previous = ctx.sessions.find(readCookie(req, SESSION_COOKIE));
  if (previous) ctx.sessions.end(previous.id);
  const session = ctx.sessions.open(token);
  ctx.record(auth.user.name, 'dashboard: login', from);
  return redirect(res, `${DASHBOARD_PATH}/`, { 'Set-Cookie': sessionCookie(req, session.id) });
}

function refuse(res: ServerResponse, isApi: boolean, status: number, error: string, user: string, session: DashboardSession): void {
  if (isApi) return sendJson(res, status, { error });
  return sendHtml(res, status, errorPage('Refused', error, user, session.csrf));
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** The dashboard's own scripts and styles, and the chart library's (copied beside them by the build): no secret in them, served to anyone. */
async function serveAsset(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const match = ASSET.exec(path);
  if (!match || (req.method !== 'GET' && req.method !== 'HEAD')) return sendJson(res, 404, { error: `no asset ${path}` });
  let body: Buffer;
  try {
    body = await readFile(`${ASSETS_DIR}${match[1]!}`);
  } catch {
    return sendJson(res, 404, { error: `no asset ${path}` });
  }
  res.writeHead(200, { 'Content-Type': TYPES[match[2]!]!, 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
