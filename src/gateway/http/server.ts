import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Duplex, Writable } from 'node:stream';
import { ConnectionGate } from '../../adapters/connection-gate.js';
import { start } from '../../adapters/exec.js';
import { listenOn } from '../../adapters/listen.js';
import { exportDir } from '../../builder/build-release.js';
import { checkSourceKey, SOURCE_KEY_HEADER, SOURCE_NAME } from '../../builder/source-link.js';
import type { GatewayConfig, UserConfig } from '../../core/config/types.js';
import { auditText } from '../../state/audit.js';
import { appExists } from '../../push/repos.js';
import { Slots } from '../../core/slots.js';
import { RateLimit } from '../../core/rate.js';
import type { CommandOutcome, Dispatcher, Prepared } from '../../dispatch/dispatch.js';
import type { EventSink } from '../../dispatch/command.js';
import { eventLine } from '../../core/deploy-event.js';
import type { LiveUsers } from '../../config/live-users.js';
import { lineWriter, streamChunk, writable } from '../../lib/lines.js';
import { tokenExpired, type ApiToken } from '../../state/api-tokens.js';
import { routeRequest } from './routes.js';
import { gitRefusal, gitRequest, serveGit } from './git.js';
import { OPENAPI_PATH, openApiDocument } from './openapi.js';
import type { HookServer } from '../../push/hook-server.js';
import { isDashboardPath, LOGINS_PER_MINUTE, serveDashboard, type DashboardContext } from './dashboard/dashboard.js';
import { DashboardSessions } from './dashboard/sessions.js';

export interface ApiServerOptions {
  config: GatewayConfig;
  host: string;
  port: number;
  /** The token's record, or undefined for an unknown or revoked one. */
  resolveToken(token: string): Promise<ApiToken | undefined>;
  /** users.yml as it is now. */
  users: LiveUsers;
  /** Runs the commands, checks and records them; refused requests (401, a limit) are recorded through it too. */
  dispatcher: Dispatcher;
  /** One line for the gateway's log (connections refused by a limit, streams of removed users ended). */
  log?: (line: string) => void;
  /** The configuration directory, for the hooks of pushes over HTTP. */
  configDir: string;
  /** Where the hooks of pushes over HTTP are run; without it, each hook runs in its own process. */
  hooks?: HookServer;
}

/** What a request may use: who it acts as, through which token, from where, and the gateway's shared counters. */
interface Caller {
  user: UserConfig;
  token: ApiToken;
  from: string;
}

interface Shared {
  users: LiveUsers;
  streams: Slots;
  rates: RateLimit;
  /** Streams open now, ended when their user leaves users.yml. */
  open: Set<{ user: string; res: ServerResponse }>;
}

export interface ApiServer {
  port: number;
  close(): Promise<void>;
}

/** Largest request body taken: config vars and small option objects only. */
const MAX_BODY = 256 * 1024;

/**
 * The HTTP API: the gateway's commands (the ones `ssh magrathea` runs, with
 * the same access checks) as JSON over HTTP, authenticated by a bearer
 * token that acts as the user who created it (`ssh magrathea tokens:create`).
 * Deploys, rollbacks, logs and POST /v1/run answer a stream of JSON lines
 * (`{"stdout": ...}`, `{"stderr": ...}`, then `{"exit": N}`); the others one
 * JSON document, with the HTTP status saying how it went.
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const limits = options.config.gateway.limits;
  const shared: Shared = {
    users: options.users,
    streams: new Slots(limits.http.streamsPerToken),
    rates: new RateLimit(limits.http.requestsPerMinute),
    open: new Set(),
  };
  const dashboard = dashboardContext(options, shared);
  const log = options.log ?? (() => undefined);
  // Timeouts are checked every second (Node's default: every 30 s, which would let a slow body hold its socket that much longer).
  const server = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
    void serve(options, shared, dashboard, req, res).catch((e: Error) => {
      if (!res.headersSent) send(res, 500, { error: `unexpected error: ${e.message}` });
      else res.end();
    });
  });
  // The request (headers and body) must arrive within request_timeout; the answer may then stream as long as it needs (logs -f, deploys).
  server.requestTimeout = limits.http.requestTimeoutSeconds * 1000;
  server.headersTimeout = limits.http.requestTimeoutSeconds * 1000;
  server.keepAliveTimeout = limits.http.idleTimeoutSeconds * 1000;
  server.on('clientError', (e: NodeJS.ErrnoException, socket: Duplex) => {
    const timedOut = e.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const answer = timedOut
      ? rawAnswer(408, 'Request Timeout', `the request did not arrive within ${limits.http.requestTimeoutSeconds} s (limits.http.request_timeout)`)
      : rawAnswer(400, 'Bad Request', 'not an HTTP request this server can read');
    // As Node does by default: an answer only where none has started.
    const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (socket.writable && !started) socket.end(answer);
    socket.destroy();
  });
  gateConnections(server, new ConnectionGate({ total: limits.http.connections, names: { total: 'limits.http.connections' } }), log);

  // Removing a user from users.yml ends their open streams (a logs -f stops following); their tokens stop at their next request.
  const onUsersChange = (users: Record<string, UserConfig>) => {
    for (const stream of shared.open) {
      if (users[stream.user]) continue;
      log(`the HTTP stream of ${stream.user} ended: no longer in users.yml`);
      stream.res.destroy();
    }
  };
  shared.users.on('change', onUsersChange);
  return {
    port: await listenOn(server, options.host, options.port),
    close: () =>
      new Promise<void>((resolve) => {
        shared.users.off('change', onUsersChange);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Puts `gate` in front of the server's own connection handler: a connection
 * over the cap is answered 503, naming the limit, and closed before Node
 * reads a byte of it.
 */
function gateConnections(server: Server, gate: ConnectionGate, log: (line: string) => void): void {
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  let lastLog = 0;
  server.on('connection', (socket: Socket) => {
    const admission = gate.admit(socket);
    if (admission.ok) {
      for (const handler of handlers) handler.call(server, socket);
      return;
    }
    if (Date.now() - lastLog > 1000) {
      lastLog = Date.now();
      log(`HTTP connection from ${socket.remoteAddress} refused: ${admission.message}`);
    }
    socket.on('error', () => undefined);
    socket.end(rawAnswer(503, 'Service Unavailable', admission.message));
    setTimeout(() => socket.destroy(), 1000).unref();
  });
}

/** A whole HTTP/1.1 answer with a JSON error, for a socket Node's server does not (or no longer) handle. */
function rawAnswer(status: number, reason: string, error: string): string {
  const body = `${JSON.stringify({ error })}\n`;
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

async function serve(options: ApiServerOptions, shared: Shared, dashboard: DashboardContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://api.invalid');
  const source = /^\/v1\/sources\/([a-z][a-z0-9-]{0,39})\/([^/]+)$/.exec(url.pathname);
  if (source && req.method === 'GET') return serveSource(options, source[1]!, source[2]!, req, res);
  if (url.pathname === OPENAPI_PATH && req.method === 'GET') return send(res, 200, openApiDocument());
  if (isDashboardPath(url.pathname)) return serveDashboard(dashboard, req, res, url);
  const from = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
  const what = `api: ${req.method} ${url.pathname}`;
  const record = (user: string, command: string, exitCode: number, refused?: string) =>
    void options.dispatcher.record({ user, command, exitCode, at: new Date().toISOString(), from, ...(refused ? { refused } : {}) });
  const git = gitRequest(req.method ?? 'GET', url);
  // Refused before any command: recorded, and answered as JSON, or as text git shows (a git request).
  const refuse = (user: string, refused: string, status: number, error: string, extra: Record<string, unknown> = {}) => {
    // git asks without credentials first, every time, and sends the token once answered 401: that first ask is not recorded.
    if (!(git && refused === 'no-token')) record(user, auditText(what), 1, refused);
    return git ? gitRefusal(res, status, `magrathea: ${error}`) : send(res, status, { error, ...extra });
  };
  const auth = await authenticate(options, shared, presentedToken(req.headers.authorization));
  if ('refused' in auth) {
    if (!git) res.setHeader('WWW-Authenticate', 'Bearer realm="magrathea"');
    return refuse(auth.user ?? '-', auth.refused, 401, git ? `${auth.error}; over HTTP, git sends the token as the password` : auth.error);
  }
  const caller: Caller = { ...auth, from };
  if (!takeRate(shared, caller, res, refuse)) return;
  if (git) return serveGit({ stateDir: options.config.gateway.stateDir, configDir: options.configDir, ...(options.hooks ? { hooks: options.hooks } : {}), record }, caller, git, req, res);
  return serveRoute(options, shared, caller, req, res, url, refuse);
}

type Refuse = (user: string, refused: string, status: number, error: string) => void;

/** Takes one request from the token's budget; false when it is spent (answered 429, with Retry-After). */
function takeRate(shared: Shared, caller: Caller, res: ServerResponse, refuse: Refuse): boolean {
  const wait = shared.rates.take(caller.token.id, Date.now());
  if (wait === 0) return true;
  res.setHeader('Retry-After', String(wait));
  refuse(caller.user.name, 'limits.http.requests_per_minute', 429, `token ${caller.token.id} sent more than ${shared.rates.perMinute} requests in a minute (limits.http.requests_per_minute: ${shared.rates.perMinute}); retry in ${wait} s`);
  return false;
}

/** A request of the API (a route of routes.ts) from an authenticated caller: the commands it names, run as the caller. */
async function serveRoute(options: ApiServerOptions, shared: Shared, caller: Caller, req: IncomingMessage, res: ServerResponse, url: URL, refuse: Refuse): Promise<void> {
  const from = caller.from;
  const user = caller.user;
  let body: unknown;
  try {
    body = await readBody(req);
  } catch (e) {
    return send(res, (e as { status?: number }).status ?? 400, { error: (e as Error).message });
  }
  const route = routeRequest(req.method ?? 'GET', url, body);
  if ('status' in route) return send(res, route.status, { error: route.error });
  // Access first, as over SSH (a user learns nothing of apps they may not see), then the app, then the run.
  const checks: Runnable[] = [];
  const commands: Runnable[] = [];
  for (const [argv, into] of [...(route.check ?? []).map((a) => [a, checks] as const), ...route.commands.map((a) => [a, commands] as const)]) {
    const prepared = options.dispatcher.prepare(user, argv, { from, ...(caller.token.scopes ? { scopes: caller.token.scopes } : {}) });
    if (!prepared.ok) return send(res, httpStatus(prepared.outcome), { error: prepared.message, exit: prepared.outcome.exitCode });
    into.push(prepared.run);
  }
  if (route.app !== undefined && !appExists(options.config.gateway.stateDir, route.app)) return send(res, 404, { error: `no app ${route.app}` });
  // What must hold before a stream starts (the job is the app's): a failure answers its own status.
  for (const run of checks) {
    const stderr: Buffer[] = [];
    const ran = await run({ stdout: writable(() => undefined), stderr: writable((d) => stderr.push(d)), cwd: options.config.gateway.stateDir }, { from, print: false });
    if (ran.exitCode !== 0) return send(res, httpStatus(ran), { error: Buffer.concat(stderr).toString('utf8').trim() || `exit ${ran.exitCode}`, exit: ran.exitCode, ...(ran.code ? { code: ran.code } : {}) });
  }
  if (route.stream) {
    const release = shared.streams.take(caller.token.id);
    if (!release) return refuse(user.name, 'limits.http.streams_per_token', 429, `token ${caller.token.id} has ${shared.streams.max} streams open already (limits.http.streams_per_token: ${shared.streams.max}); end one first`);
    const entry = { user: user.name, res };
    shared.open.add(entry);
    try {
      return await stream(options, commands, res, /\btext\/event-stream\b/.test(req.headers.accept ?? ''));
    } finally {
      shared.open.delete(entry);
      release();
    }
  }
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let result: unknown;
  for (const run of commands) {
    const ran = await run({ stdout: writable((d) => stdout.push(d)), stderr: writable((d) => stderr.push(d)), cwd: options.config.gateway.stateDir }, { from, print: !route.json });
    // A command that failed with a result (doctor's drift, status --check's problems) answers it too.
    if (ran.exitCode !== 0) return send(res, httpStatus(ran), { error: Buffer.concat(stderr).toString('utf8').trim() || `exit ${ran.exitCode}`, exit: ran.exitCode, ...(ran.code ? { code: ran.code } : {}), ...(ran.result !== undefined ? { result: ran.result } : {}) });
    result = ran.result;
  }
  // The result itself (what --json prints); a command without one answers what it printed.
  return send(res, 200, route.json ? result : { output: Buffer.concat(stdout).toString('utf8') });
}

type Runnable = Extract<Prepared, { ok: true }>['run'];

/**
 * Runs the commands, their output sent as it comes, one JSON object per
 * line: `{stdout}` and `{stderr}` lines, a deploy's events as `{event}`
 * (with the `stdout` line a terminal shows for it, if any), the result as
 * `{result}` (a deploy's per-cluster outcome), then the exit status; with
 * `sse` (the client accepts text/event-stream), the same objects as
 * Server-Sent Events, one `data:` line each (JSON has no raw newline), for
 * a browser's EventSource.
 */
async function stream(options: ApiServerOptions, commands: Runnable[], res: ServerResponse, sse: boolean): Promise<void> {
  res.writeHead(200, { 'Content-Type': sse ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-store' });
  res.flushHeaders();
  const gone = new AbortController();
  res.on('close', () => gone.abort());
  // A slow client slows the command down (logs -f pauses its hosts) instead of the gateway buffering without end.
  const write = async (object: unknown): Promise<void> => {
    if (gone.signal.aborted || res.write(streamChunk(object, sse))) return;
    await new Promise<void>((resolve) => {
      res.once('drain', resolve);
      gone.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  };
  // One queue for the command's output and its events, so that they arrive in the order they were said.
  let sent = Promise.resolve();
  const line = (object: unknown): Promise<void> => (sent = sent.then(() => write(object)));
  const events: EventSink = {
    line: (text) => void line({ stdout: text }),
    event: (event) => {
      const text = eventLine(event);
      void line(text === undefined ? { event } : { stdout: text, event });
    },
  };
  let outcome: CommandOutcome = { exitCode: 0 };
  for (const run of commands) {
    const stdout = lineWriter((text) => line({ stdout: text }));
    const stderr = lineWriter((text) => line({ stderr: text }));
    const ran = await run({ stdout, stderr, cwd: options.config.gateway.stateDir }, { live: { output: stdout, signal: gone.signal }, events });
    await Promise.all([finish(stdout), finish(stderr)]);
    if (ran.result !== undefined && typeof ran.result === 'object') await line({ result: ran.result });
    outcome = ran;
    if (outcome.exitCode !== 0 || gone.signal.aborted) break;
  }
  await line({ exit: outcome.exitCode, ...(outcome.refused ? { refused: outcome.refused } : {}), ...(outcome.code ? { code: outcome.code } : {}) });
  res.end();
}

/**
 * A release's exported source, as a tar stream, for a worker on another
 * machine: the key the job carries is the only credential (see
 * source-link.ts). The export exists while its push or deploy waits.
 */
async function serveSource(options: ApiServerOptions, app: string, name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const stateDir = options.config.gateway.stateDir;
  const key = req.headers[SOURCE_KEY_HEADER];
  if (!SOURCE_NAME.test(name) || typeof key !== 'string' || !(await checkSourceKey(stateDir, app, name, key))) return send(res, 403, { error: 'no source with that name and key' });
  const dir = exportDir(stateDir, app, name);
  if (!existsSync(dir)) return send(res, 404, { error: `the source ${app}/${name} is gone (its push or deploy ended)` });
  res.writeHead(200, { 'Content-Type': 'application/x-tar', 'Cache-Control': 'no-store' });
  const tar = start('tar', ['-c', '-C', dir, '.'], { stdio: 'pipe' });
  res.on('close', () => tar.kill('SIGTERM'));
  tar.stdout!.pipe(res, { end: false });
  const result = await tar;
  // A tar that failed half-way must not look like a whole tree: the connection is cut, and the worker's fetch fails.
  if (result.exitCode === 0) res.end();
  else res.destroy();
}

/**
 * The token's user, as users.yml says now; or why not, for the 401 and the
 * audit log. `given`: the token as presented (undefined: none was, or it
 * could not be read). The dashboard's login and each of its requests check
 * a token here too.
 */
async function authenticate(options: ApiServerOptions, shared: Shared, given: string | undefined | null): Promise<{ user: UserConfig; token: ApiToken } | { refused: string; error: string; user?: string }> {
  if (given === null) return { refused: 'no-token', error: 'a valid token is needed: Authorization: Bearer <token> (ssh magrathea tokens:create)' };
  const token = given ? await options.resolveToken(given) : undefined;
  if (!token) return { refused: 'unknown-token', error: 'this token is not valid (revoked, or never made): ssh magrathea tokens:create makes one' };
  if (tokenExpired(token, new Date())) return { refused: 'expired-token', user: token.user, error: `token ${token.id} expired at ${token.expiresAt}: ssh magrathea tokens:create makes a new one` };
  // The user must still be in users.yml: removing a user there ends their tokens.
  const user = shared.users.users[token.user];
  if (!user) return { refused: 'removed-user', user: token.user, error: `token ${token.id} belongs to ${token.user}, who is no longer a user of this gateway` };
  return { user, token };
}

/** The token of `Authorization: Bearer TOKEN`, or of Basic with the token as the password (git over HTTP; the user name is not read); null without the header. */
function presentedToken(header: string | undefined): string | undefined | null {
  if (header === undefined) return null;
  const bearer = /^Bearer ([\x21-\x7e]{1,200})$/.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic ([A-Za-z0-9+/=]{1,400})$/.exec(header);
  if (!basic) return undefined;
  const pair = Buffer.from(basic[1]!, 'base64').toString('utf8');
  return pair.slice(pair.indexOf(':') + 1) || undefined;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw Object.assign(new Error(`request body over ${MAX_BODY} bytes`), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw Object.assign(new Error('a request body must be JSON (Content-Type: application/json)'), { status: 415 });
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw Object.assign(new Error(`request body: ${(e as Error).message}`), { status: 400 });
  }
}

/**
 * What the dashboard may use of this server: tokens checked as the API
 * checks them, the API's own routes run as a session's token (with its
 * rate limit), and whether a caller may open an app's page.
 */
function dashboardContext(options: ApiServerOptions, shared: Shared): DashboardContext {
  const record = (user: string, command: string, from: string, refused?: string) =>
    void options.dispatcher.record({ user, command, exitCode: refused ? 1 : 0, at: new Date().toISOString(), from, ...(refused ? { refused } : {}) });
  return {
    sessions: new DashboardSessions(),
    logins: new RateLimit(LOGINS_PER_MINUTE),
    authenticate: (token) => authenticate(options, shared, token),
    record,
    api: async (auth, from, req, res, url) => {
      const caller: Caller = { ...auth, from };
      const refuse: Refuse = (user, refused, status, error) => {
        record(user, auditText(`dashboard: ${req.method} ${url.pathname}`), from, refused);
        send(res, status, { error });
      };
      if (!takeRate(shared, caller, res, refuse)) return;
      return serveRoute(options, shared, caller, req, res, url, refuse);
    },
    checkApp: (auth, from, app) => {
      // The check apps:info would make (the user's apps, the token's scopes), then whether the app exists: as the API answers GET /v1/apps/APP.
      const prepared = options.dispatcher.prepare(auth.user, ['apps:info', app, '--json'], { from, ...(auth.token.scopes ? { scopes: auth.token.scopes } : {}) });
      if (!prepared.ok) return { status: httpStatus(prepared.outcome), error: prepared.message };
      if (!appExists(options.config.gateway.stateDir, app)) return { status: 404, error: `no app ${app}` };
      return undefined;
    },
  };
}

/** HTTP status of a command that did not succeed. */
function httpStatus(outcome: CommandOutcome): number {
  switch (outcome.refused) {
    case 'usage':
      return outcome.code === 'no-app' || outcome.code === 'no-deploy' ? 404 : 400;
    case 'failed':
      return outcome.code === 'limit' ? 429 : 422;
    case 'forbidden':
      return 403;
    case 'unknown':
      return 404;
    default:
      return 500;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

function finish(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableFinished) return resolve();
    stream.once('finish', () => resolve());
    stream.once('error', () => resolve());
    stream.end();
  });
}
