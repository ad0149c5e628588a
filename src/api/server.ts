import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { start } from '../adapters/exec.js';
import { listenOn } from '../adapters/listen.js';
import { exportDir } from '../builder/build-release.js';
import { checkSourceKey, SOURCE_KEY_HEADER, SOURCE_NAME } from '../builder/source-link.js';
import type { GatewayConfig, UserConfig } from '../config/types.js';
import { auditText, type AuditEntry } from '../git/audit.js';
import { appExists } from '../git/repos.js';
import { prepareGatewayCommand, type CommandOutcome, type PreparedCommand } from '../git/dispatch.js';
import { lineWriter, writable } from '../git/line-splitter.js';
import type { ApiToken } from '../state/api-tokens.js';
import { routeRequest } from './routes.js';

export interface ApiServerOptions {
  config: GatewayConfig;
  configDir: string;
  host: string;
  port: number;
  /** The token's record, or undefined for an unknown or revoked one. */
  resolveToken(token: string): Promise<ApiToken | undefined>;
  audit?: (entry: AuditEntry) => void;
  readAudit?: (count: number) => Promise<AuditEntry[]>;
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
  const server = createServer((req, res) => {
    void serve(options, req, res).catch((e: Error) => {
      if (!res.headersSent) send(res, 500, { error: `unexpected error: ${e.message}` });
      else res.end();
    });
  });
  // Streams (logs -f, deploys) stay open as long as they need.
  server.requestTimeout = 0;
  server.headersTimeout = 10_000;
  return {
    port: await listenOn(server, options.host, options.port),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(options: ApiServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://api.invalid');
  const source = /^\/v1\/sources\/([a-z][a-z0-9-]{0,39})\/([^/]+)$/.exec(url.pathname);
  if (source && req.method === 'GET') return serveSource(options, source[1]!, source[2]!, req, res);
  const user = await authenticate(options, req);
  if (!user) {
    res.setHeader('WWW-Authenticate', 'Bearer realm="magrathea"');
    return send(res, 401, { error: 'a valid token is needed: Authorization: Bearer <token> (ssh magrathea tokens:create)' });
  }
  let body: unknown;
  try {
    body = await readBody(req);
  } catch (e) {
    return send(res, (e as { status?: number }).status ?? 400, { error: (e as Error).message });
  }
  const route = routeRequest(req.method ?? 'GET', url, body);
  if ('status' in route) return send(res, route.status, { error: route.error });
  // Access first, as over SSH (a user learns nothing of apps they may not see), then the app, then the run.
  const commands: { argv: string[]; run: Extract<PreparedCommand, { ok: true }>['run'] }[] = [];
  for (const argv of route.commands) {
    const prepared = prepareGatewayCommand(options, user, argv);
    if (!prepared.ok) return send(res, httpStatus(prepared.outcome), { error: prepared.message, exit: prepared.outcome.exitCode });
    commands.push({ argv, run: prepared.run });
  }
  if (route.app !== undefined && !appExists(options.config.gateway.stateDir, route.app)) return send(res, 404, { error: `no app ${route.app}` });
  const audit = (argv: string[], outcome: CommandOutcome) => options.audit?.({ user: user.name, command: `api: ${auditText(argv)}`, exitCode: outcome.exitCode, at: new Date().toISOString() });
  if (route.stream) return stream(options, user, commands, audit, res);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  for (const { argv, run } of commands) {
    const outcome = await run({ stdout: writable((d) => stdout.push(d)), stderr: writable((d) => stderr.push(d)), cwd: options.config.gateway.stateDir, user: user.name });
    audit(argv, outcome);
    if (outcome.exitCode !== 0) return send(res, httpStatus(outcome), { error: Buffer.concat(stderr).toString('utf8').trim() || `exit ${outcome.exitCode}`, exit: outcome.exitCode, ...(outcome.code ? { code: outcome.code } : {}) });
  }
  const output = Buffer.concat(stdout).toString('utf8');
  if (!route.json) return send(res, 200, { output });
  try {
    return send(res, 200, JSON.parse(output));
  } catch {
    return send(res, 200, { output });
  }
}

/** Runs the commands, their output sent as it comes, one JSON object per line, then the exit status. */
async function stream(
  options: ApiServerOptions,
  user: UserConfig,
  commands: { argv: string[]; run: Extract<PreparedCommand, { ok: true }>['run'] }[],
  audit: (argv: string[], outcome: CommandOutcome) => void,
  res: ServerResponse,
): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-store' });
  res.flushHeaders();
  const gone = new AbortController();
  res.on('close', () => gone.abort());
  // A slow client slows the command down (logs -f pauses its hosts) instead of the gateway buffering without end.
  const line = async (object: unknown): Promise<void> => {
    if (gone.signal.aborted || res.write(`${JSON.stringify(object)}\n`)) return;
    await new Promise<void>((resolve) => {
      res.once('drain', resolve);
      gone.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  };
  let outcome: CommandOutcome = { exitCode: 0 };
  for (const { argv, run } of commands) {
    const stdout = lineWriter((text) => line({ stdout: text }));
    const stderr = lineWriter((text) => line({ stderr: text }));
    outcome = await run({ stdout, stderr, cwd: options.config.gateway.stateDir, user: user.name }, { live: { output: stdout, signal: gone.signal } });
    await Promise.all([finish(stdout), finish(stderr)]);
    audit(argv, outcome);
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

async function authenticate(options: ApiServerOptions, req: IncomingMessage): Promise<UserConfig | undefined> {
  const match = /^Bearer ([\x21-\x7e]{1,200})$/.exec(req.headers.authorization ?? '');
  if (!match) return undefined;
  const token = await options.resolveToken(match[1]!);
  // The user must still be in users.yml: removing a user there ends their tokens.
  return token ? options.config.users[token.user] : undefined;
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

/** HTTP status of a command that did not succeed. */
function httpStatus(outcome: CommandOutcome): number {
  switch (outcome.refused) {
    case 'usage':
      return outcome.code === 'no-app' ? 404 : 400;
    case 'forbidden':
      return 403;
    case 'unknown':
      return 404;
    case 'failed':
      return 422;
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
