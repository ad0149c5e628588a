import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { start } from '../../adapters/exec.js';
import { authorize, scopeAllows, type Need } from '../../core/access.js';
import type { UserConfig } from '../../core/config/types.js';
import { checkName } from '../../core/values.js';
import type { HookServer } from '../../push/hook-server.js';
import { appExists, repoDir } from '../../push/repos.js';
import type { ApiToken } from '../../state/api-tokens.js';

type Service = 'git-upload-pack' | 'git-receive-pack';

/** A request of git's smart HTTP protocol for an app's repository. */
export interface GitRequest {
  app: string;
  service: Service;
  /** What follows `/APP.git`: `/info/refs`, `/git-upload-pack` or `/git-receive-pack`. */
  path: string;
}

/**
 * `GET /APP.git/info/refs?service=git-upload-pack|git-receive-pack` and
 * `POST /APP.git/git-upload-pack|git-receive-pack`: what `git clone`,
 * `fetch` and `push` ask over HTTP. Undefined for anything else (git's
 * "dumb" protocol, other paths), which the API answers as any unknown route.
 */
export function gitRequest(method: string, url: URL): GitRequest | undefined {
  const match = /^\/([^/]+)\.git(\/info\/refs|\/git-upload-pack|\/git-receive-pack)$/.exec(url.pathname);
  if (!match || checkName(match[1]!) !== undefined) return undefined;
  const [, app, path] = match as unknown as [string, string, string];
  if (path === '/info/refs') {
    const service = url.searchParams.get('service');
    return method === 'GET' && (service === 'git-upload-pack' || service === 'git-receive-pack') ? { app, service, path } : undefined;
  }
  return method === 'POST' ? { app, service: path.slice(1) as Service, path } : undefined;
}

export interface GitCaller {
  user: UserConfig;
  token: ApiToken;
  from: string;
}

export interface GitOptions {
  stateDir: string;
  configDir: string;
  hooks?: HookServer;
  /** Records the push or fetch in the audit log. */
  record(user: string, command: string, exitCode: number, refused?: string): void;
}

/**
 * Serves one request of git's smart HTTP protocol with git's own CGI
 * program, `git http-backend`: the same git-receive-pack as over SSH, with
 * the repository's push size cap, and the same hooks run by the gateway
 * (a pushed branch is validated, deployed and rejected on failure, its
 * progress in the push's `remote:` lines). A push needs the deploy verb
 * (and scope), a clone or fetch read access. Refusals are plain text,
 * which git shows as `remote:` lines.
 */
export async function serveGit(options: GitOptions, caller: GitCaller, git: GitRequest, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const need: Need = git.service === 'git-receive-pack' ? 'deploy' : 'read';
  const command = `${git.service} ${git.app}.git (http)`;
  const refuse = (status: number, message: string, refused: string) => {
    options.record(caller.user.name, command, 1, refused);
    gitRefusal(res, status, message);
  };
  const scoped = caller.token.scopes ? scopeAllows(caller.token.scopes, { name: git.service === 'git-receive-pack' ? 'push' : 'fetch', need }) : { ok: true as const };
  if (!scoped.ok) return refuse(403, `magrathea: ${scoped.reason}`, 'forbidden');
  const access = authorize(caller.user, need, git.app);
  if (!access.ok) return refuse(403, `magrathea: ${access.reason}`, 'forbidden');
  if (!appExists(options.stateDir, git.app)) return refuse(404, `magrathea: no app ${git.app}: an admin creates it with "ssh magrathea apps:create ${git.app}"`, 'failed');

  const pushing = git.service === 'git-receive-pack' && req.method === 'POST';
  const hooks = pushing ? options.hooks?.register({ app: git.app, gitDir: repoDir(options.stateDir, git.app), pusher: caller.user.name }) : undefined;
  try {
    const exitCode = await runBackend(options, caller, git, req, res, hooks?.env ?? {});
    if (pushing) options.record(caller.user.name, command, exitCode);
  } finally {
    hooks?.release();
  }
}

/** A refusal git shows: plain text (each line a `remote:` line), and for 401 the Basic challenge that makes git ask for the token. */
export function gitRefusal(res: ServerResponse, status: number, message: string): void {
  const body = `${message}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...(status === 401 ? { 'WWW-Authenticate': 'Basic realm="magrathea"' } : {}),
  });
  res.end(body);
}

/** `git http-backend` as CGI: the request's body to its input, its headers (a `Status:` line among them) and body to the answer. */
async function runBackend(options: GitOptions, caller: GitCaller, git: GitRequest, req: IncomingMessage, res: ServerResponse, hookEnv: Record<string, string>): Promise<number> {
  const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : '');
  const env: Record<string, string> = {
    GIT_PROJECT_ROOT: join(options.stateDir, 'repos'),
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: `/${git.app}.git${git.path}`,
    QUERY_STRING: git.path === '/info/refs' ? `service=${git.service}` : '',
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: header('content-type'),
    // http-backend enables receive-pack only for an authenticated user.
    REMOTE_USER: caller.user.name,
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
    ...(header('content-length') ? { CONTENT_LENGTH: header('content-length') } : {}),
    ...(header('content-encoding') ? { HTTP_CONTENT_ENCODING: header('content-encoding') } : {}),
    ...(header('git-protocol') ? { GIT_PROTOCOL: header('git-protocol') } : {}),
    MAGRATHEA_USER: caller.user.name,
    MAGRATHEA_CONFIG: options.configDir,
    ...hookEnv,
  };
  const child = start('git', ['http-backend'], { env, stdio: 'pipe' });
  req.pipe(child.stdin!);
  // The client going away ends the push, as over SSH: git, and its hooks with it, see their input close.
  res.on('close', () => child.stdin?.destroy());
  child.stdin!.on('error', () => undefined);
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => void (errors = `${errors}${String(chunk)}`.slice(-4000)));
  let head = Buffer.alloc(0);
  let started = false;
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = headerEnd(head);
    if (end === undefined) return;
    started = true;
    child.stdout!.off('data', onData);
    const { status, headers } = parseCgiHeaders(head.subarray(0, end.at).toString('latin1'));
    res.writeHead(status, headers);
    res.write(head.subarray(end.at + end.length));
    // The rest (a pack, a push's progress) as it comes, at the client's pace.
    child.stdout!.pipe(res, { end: false });
  };
  child.stdout!.on('data', onData);
  const result = await child;
  if (!started && !res.headersSent) gitRefusal(res, 500, `magrathea: git http-backend answered nothing (exit ${result.exitCode ?? 'killed'}): ${errors.trim()}`);
  else res.end();
  return result.exitCode ?? 1;
}

function headerEnd(buffer: Buffer): { at: number; length: number } | undefined {
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf, length: 4 };
  return lf >= 0 ? { at: lf, length: 2 } : undefined;
}

/** A CGI program's headers: its `Status: 403 Forbidden` (200 without one) and the others. */
function parseCgiHeaders(text: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]) || 500;
    else headers[name] = value;
  }
  return { status, headers };
}
