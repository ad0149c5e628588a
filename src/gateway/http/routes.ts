import { checkEnvKey, checkEnvValue } from '../../core/values.js';

/**
 * The HTTP API's routes: each one the argv of a gateway command (the ones
 * `ssh magrathea` runs), so both interfaces share one implementation, one
 * set of argument checks and one set of access rules. Values from the path,
 * the query and the body become single arguments; none is ever read by a
 * shell.
 */
export interface Route {
  /** Commands run in order, stopping at the first failure. */
  commands: string[][];
  /** Their stdout is JSON (`--json`), answered as the response's body. */
  json: boolean;
  /** Answered as a stream of JSON lines instead (deploys, rollbacks, logs, /v1/run). */
  stream: boolean;
  /** Commands run first, unstreamed, their output dropped: a refusal or failure of theirs is answered with its status before any stream starts (a job of another app: 404). */
  check?: string[][];
  /** The app of the path (`/v1/apps/APP/...`): a 404 when the gateway has no such app. */
  app?: string;
}

export type RouteResult = Route | { status: number; error: string };

type Params = Record<string, string>;
type Handler = (p: Params, query: URLSearchParams, body: unknown) => RouteResult;


/** Each route: its method, its path as OpenAPI writes it (`{app}`: an app's name), and what it runs. */
const ROUTES: [method: string, path: string, handler: Handler][] = [
  ['GET', '/v1/apps', () => one(['apps:list', '--json'])],
  ['POST', '/v1/apps', (_p, _q, body) => withBody(body, (b) => one(['apps:create', text(b.name, 'name')], false))],
  ['GET', '/v1/apps/{app}', (p) => one(['apps:info', p.app!, '--json'])],
  ['DELETE', '/v1/apps/{app}', (p, q) => one(['apps:destroy', p.app!, '--confirm', q.get('confirm') ?? ''], false)],
  ['GET', '/v1/apps/{app}/releases', (p, q) => one(['releases', p.app!, ...opt(q, 'env'), '--json'])],
  ['GET', '/v1/apps/{app}/usage', (p, q) => one(['usage', p.app!, ...opt(q, 'since'), '--json'])],
  ['GET', '/v1/apps/{app}/config', (p, q) => one(['config:show', target(p, q), ...opt(q, 'env'), ...(q.get('reveal') === '1' ? ['--reveal'] : []), '--json'])],
  [
    'GET',
    '/v1/apps/{app}/config/diff',
    (p, q) => (q.get('a') && q.get('b') ? one(['config:diff', p.app!, q.get('a')!, q.get('b')!, ...opt(q, 'env'), ...(q.get('reveal') === '1' ? ['--reveal'] : []), '--json']) : { status: 400, error: 'name the two clusters: ?a=CLUSTER&b=CLUSTER' }),
  ],
  [
    'PATCH',
    '/v1/apps/{app}/config',
    (p, q, body) =>
      withBody(body, (b) => {
        const entries = Object.entries(b);
        if (entries.length === 0) return { status: 400, error: 'the body names the vars to set ("KEY": "value") or unset ("KEY": null)' };
        const bad = entries.find(([, v]) => v !== null && typeof v !== 'string');
        if (bad) return { status: 400, error: `${bad[0]}: a value is a string, or null to unset it` };
        // Checked here, all of them, so that the set and the unset after it both run or neither does.
        const problems = entries.flatMap(([k, v]) => {
          const problem = checkEnvKey(k) ?? (typeof v === 'string' ? checkEnvValue(v) : undefined);
          return problem ? [`${k}: ${problem}`] : [];
        });
        if (problems.length > 0) return { status: 400, error: problems.join('; ') };
        const set = entries.filter(([, v]) => typeof v === 'string').map(([k, v]) => `${k}=${v as string}`);
        const unset = entries.filter(([, v]) => v === null).map(([k]) => k);
        const where = [target(p, q), ...opt(q, 'env')];
        return {
          commands: [...(set.length > 0 ? [['config:set', where[0]!, ...set, ...where.slice(1)]] : []), ...(unset.length > 0 ? [['config:unset', where[0]!, ...unset, ...where.slice(1)]] : [])],
          json: false,
          stream: false,
        };
      }),
  ],
  [
    'POST',
    '/v1/apps/{app}/deploy',
    (p, _q, body) => withBody(body ?? {}, (b) => streamed(['deploy', p.app!, ...(b.ref === undefined ? [] : [text(b.ref, 'ref')]), ...(b.env === undefined ? [] : ['--env', text(b.env, 'env')])])),
  ],
  [
    'POST',
    '/v1/apps/{app}/rollback',
    (p, _q, body) =>
      withBody(body ?? {}, (b) =>
        streamed([
          'rollback',
          b.cluster === undefined ? p.app! : `${p.app!}@${text(b.cluster, 'cluster')}`,
          ...(b.release === undefined ? [] : [text(b.release, 'release')]),
          ...(b.env === undefined ? [] : ['--env', text(b.env, 'env')]),
        ]),
      ),
  ],
  ['GET', '/v1/apps/{app}/deploys', (p, q) => one(['deploys', p.app!, ...opt(q, 'env'), '--json'])],
  // The job id reaches the commands as given (decoded): they say what is wrong with one that is not an id; checked before the stream, for its status.
  ['GET', '/v1/apps/{app}/deploys/{id}', (p) => ({ ...streamed(['deploys:follow', p.app!, p.id!]), check: [['deploys', p.app!, '--job', p.id!, '--json']] })],
  // Never with --reveal: the passwords are for ssh magrathea db:info --reveal.
  ['GET', '/v1/apps/{app}/db', (p, q) => one(['db:info', p.app!, ...opt(q, 'env'), '--json'])],
  [
    'GET',
    '/v1/apps/{app}/logs',
    (p, q) => streamed(['logs', p.app!, ...opt(q, 'cluster'), ...opt(q, 'env'), ...opt(q, 'type'), ...(q.has('n') ? ['-n', q.get('n')!] : []), ...(q.get('follow') === '1' ? ['-f'] : [])]),
  ],
  ['GET', '/v1/audit', (_p, q) => one(['audit', ...(q.has('n') ? ['-n', q.get('n')!] : []), '--json'])],
  ['GET', '/v1/tokens', () => one(['tokens:list', '--json'])],
  ['GET', '/v1/status', () => one(['status', '--json'])],
  ['GET', '/v1/doctor', (_p, q) => one(['doctor', ...opt(q, 'cluster'), '--json'])],
  // Every other command, as `ssh magrathea ARGV...` runs it (shell excepted: it needs a terminal).
  ['POST', '/v1/run', (_p, _q, body) => withBody(body, (b) => (Array.isArray(b.argv) && b.argv.length > 0 && b.argv.every((a) => typeof a === 'string') ? streamed(b.argv as string[]) : { status: 400, error: 'the body is {"argv": ["command", "argument", ...]}' }))],
];

/** The operations of the API, as its OpenAPI document must describe them (a test holds them to it). */
export const API_OPERATIONS: readonly { method: string; path: string }[] = ROUTES.map(([method, path]) => ({ method, path }));

const patterns = new Map<string, RegExp>();
/** `/v1/apps/{app}/releases` as the RegExp that matches it: an app's name in place of `{app}`, one path segment (checked by its command) in place of `{id}`. */
function pathPattern(template: string): RegExp {
  let pattern = patterns.get(template);
  if (!pattern) {
    pattern = new RegExp(`^${template.replaceAll('{app}', '([a-z][a-z0-9-]{0,39})').replaceAll('{id}', '([^/]{1,200})')}$`);
    patterns.set(template, pattern);
  }
  return pattern;
}

/** The route of a request, or the status and error to answer. */
export function routeRequest(method: string, url: URL, body: unknown): RouteResult {
  let pathMatched = false;
  for (const [m, template, handler] of ROUTES) {
    const names = [...template.matchAll(/\{(\w+)\}/g)].map((n) => n[1]!);
    const match = pathPattern(template).exec(url.pathname);
    if (!match) continue;
    pathMatched = true;
    if (m !== method) continue;
    let params: Params;
    try {
      params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]));
    } catch {
      return { status: 400, error: `${url.pathname}: a path segment is not valid percent-encoding` };
    }
    try {
      const result = handler(params, url.searchParams, body);
      return 'commands' in result && params.app !== undefined ? { ...result, app: params.app } : result;
    } catch (e) {
      return { status: 400, error: (e as Error).message };
    }
  }
  return pathMatched ? { status: 405, error: `${method} is not allowed on ${url.pathname}` } : { status: 404, error: `no such endpoint: ${method} ${url.pathname}` };
}

function one(argv: string[], json = true): Route {
  return { commands: [argv], json, stream: false };
}

function streamed(argv: string[]): Route {
  return { commands: [argv], json: false, stream: true };
}

function opt(query: URLSearchParams, name: string): string[] {
  const value = query.get(name);
  return value === null ? [] : [`--${name}`, value];
}

function target(params: Params, query: URLSearchParams): string {
  const cluster = query.get('cluster');
  return cluster === null ? params.app! : `${params.app!}@${cluster}`;
}

function withBody(body: unknown, use: (b: Record<string, unknown>) => RouteResult): RouteResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { status: 400, error: 'the request body must be a JSON object' };
  return use(body as Record<string, unknown>);
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new Error(`${field}: a string is needed`);
  return value;
}
