/**
 * The HTTP API described as OpenAPI 3.1, served at GET /v1/openapi.json.
 * Written by hand beside the routes (routes.ts); a test holds the two
 * together (every route documented, nothing documented that is not a
 * route), checks the document with an OpenAPI validator, and asks the
 * running gateway each operation, checking the answer against it.
 */

import { DEPLOY_PHASES } from '../../core/deploy-event.js';
import { SCOPES } from '../../core/access.js';

/** Where the document is served, to anyone (it holds nothing secret). */
export const OPENAPI_PATH = '/v1/openapi.json';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ 'application/json': { schema } });

/** The answers every operation may give besides its own. */
const REFUSALS = {
  '400': { description: 'bad arguments (a usage error of the command)', content: json(ref('Error')) },
  '401': { description: 'no valid token (missing, unknown, revoked, expired, or its user left users.yml)', content: json(ref('Error')) },
  '403': { description: "not allowed: the user's role, apps or verbs (users.yml), or the token's scopes", content: json(ref('Error')) },
  '429': { description: 'a limit of the token: limits.http.requests_per_minute (with Retry-After) or limits.http.streams_per_token', content: json(ref('Error')) },
};
const APP_REFUSALS = { ...REFUSALS, '404': { description: 'no such app', content: json(ref('Error')) } };
const FAILED = { '422': { description: 'the command failed; `result` holds its report where it has one', content: json(ref('Error')) } };

const appParameter = { name: 'app', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,39}$' }, description: "the app's name" };
const query = (name: string, description: string, schema: Schema = { type: 'string' }) => ({ name, in: 'query', required: false, schema, description });
const env = query('env', 'the environment (default: the one fed by the default branch)');
const reveal = query('reveal', 'with 1, config vars are shown as they are (the config verb); else masked', { type: 'string', enum: ['1'] });

/** An operation answered with the command's JSON result. */
function answer(summary: string, runs: string, schema: Schema, extra: Schema = {}): Schema {
  return { summary, description: `Runs \`${runs}\`.`, responses: { '200': { description: 'the result', content: json(schema) }, ...APP_REFUSALS, ...FAILED }, ...extra };
}

/** An operation answered as a stream of JSON lines as the command runs. */
function stream(summary: string, runs: string, extra: Schema = {}): Schema {
  return {
    summary,
    description: `Runs \`${runs}\`, its output streamed as it comes: one JSON object per line, \`{"stdout": ...}\` and \`{"stderr": ...}\`, a deploy's or rollback's events as \`{"event": {...}}\` (with the \`stdout\` line a terminal shows for it, when it has one), the command's result as \`{"result": ...}\` (a deploy's outcome on each cluster), then \`{"exit": N}\` (0: success); with \`Accept: text/event-stream\`, the same objects as Server-Sent Events (one \`data:\` line each). A refusal comes before the stream, with its status.`,
    responses: { '200': { description: 'the stream', content: { 'application/x-ndjson': { schema: ref('StreamLine') }, 'text/event-stream': { schema: ref('StreamLine') } } }, ...APP_REFUSALS },
    ...extra,
  };
}

/** The operation with its own 404 (its path names more than an app). */
function withNotFound(operation: Schema, description: string): Schema {
  return { ...operation, responses: { ...(operation.responses as Schema), '404': { description, content: json(ref('Error')) } } };
}

const body = (schema: Schema, required = true) => ({ required, content: json(schema) });
const output = ref('Output');

export function openApiDocument(): Schema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Magrathea gateway',
      version: '1',
      description:
        "The gateway's commands (those `ssh magrathea` runs, with the same access rules) over HTTP. A token acts as the user who made it (`ssh magrathea tokens:create`, optionally with --scope and --expires). The same listener serves the app repositories over git's smart HTTP protocol (`/APP.git/...`, the token as the password), which git itself speaks and this document leaves out.",
    },
    security: [{ token: [] }],
    paths: {
      [OPENAPI_PATH]: { get: { summary: 'this document', security: [], responses: { '200': { description: 'the OpenAPI document', content: json({ type: 'object' }) } } } },
      '/v1/apps': {
        get: answer('the apps the caller may see', 'apps:list', { type: 'array', items: { type: 'string' } }),
        post: { ...answer('creates an app (admins)', 'apps:create NAME', output), requestBody: body({ type: 'object', required: ['name'], properties: { name: { type: 'string' } } }) },
      },
      '/v1/apps/{app}': {
        parameters: [appParameter],
        get: answer("an app: its repository, what is live where, its releases", 'apps:info APP', { type: 'object', required: ['app', 'live', 'releases'], properties: { app: { type: 'string' }, live: { type: 'object' }, releases: { type: 'array' } } }),
        delete: answer('destroys an app everywhere (admins)', 'apps:destroy APP --confirm APP', output, { parameters: [query('confirm', "the app's name again", { type: 'string' })] }),
      },
      '/v1/apps/{app}/releases': { parameters: [appParameter], get: answer('the releases of an environment, newest first', 'releases APP', { type: 'array', items: ref('Release') }, { parameters: [env] }) },
      '/v1/apps/{app}/usage': { parameters: [appParameter], get: answer('disk and traffic per cluster, and each hour with traffic (hours)', 'usage APP', { type: 'object', required: ['app', 'hours', 'clusters'], properties: { app: { type: 'string' }, hours: { type: 'array', items: { type: 'object', required: ['hour', 'env', 'cluster', 'requests', 'bytesIn', 'bytesOut', 'status'] } }, clusters: { type: 'array' } } }, { parameters: [query('since', 'how far back: 7d, 24h (default 7d)')] }) },
      '/v1/apps/{app}/config': {
        parameters: [appParameter],
        get: answer(
          "with a cluster, the instance's effective configuration, each value with its layer and source; without, the app's config vars",
          'config:show APP[@CLUSTER]',
          { oneOf: [{ type: 'array', items: ref('ConfigValue') }, { type: 'object', additionalProperties: { type: 'string' } }] },
          { parameters: [query('cluster', 'the instance of this cluster'), env, reveal] },
        ),
        patch: {
          ...answer('sets and unsets config vars, all checked first: all or nothing', 'config:set / config:unset', output, { parameters: [query('cluster', 'for this cluster only'), env] }),
          requestBody: body({ type: 'object', minProperties: 1, additionalProperties: { type: ['string', 'null'] }, description: '"KEY": "value" sets, "KEY": null unsets' }),
        },
      },
      '/v1/apps/{app}/config/diff': {
        parameters: [appParameter],
        get: answer('the keys two instances are given differently', 'config:diff APP A B', { type: 'object', required: ['differences'], properties: { differences: { type: 'array' } } }, {
          parameters: [{ ...query('a', 'a cluster'), required: true }, { ...query('b', 'another cluster'), required: true }, env, reveal],
        }),
      },
      '/v1/apps/{app}/deploy': { parameters: [appParameter], post: { ...stream('deploys a ref (default: the branch of the environment)', 'deploy APP [REF]'), requestBody: body({ type: 'object', properties: { ref: { type: 'string' }, env: { type: 'string' } } }, false) } },
      '/v1/apps/{app}/rollback': {
        parameters: [appParameter],
        post: { ...stream('puts a release back (default: the one before)', 'rollback APP[@CLUSTER] [RELEASE]'), requestBody: body({ type: 'object', properties: { cluster: { type: 'string' }, release: { type: 'string' }, env: { type: 'string' } } }, false) },
      },
      '/v1/apps/{app}/deploys': {
        parameters: [appParameter],
        get: answer("the app's deploys and rollbacks queued or running, oldest first, whoever started them (a push, the command line, the API)", 'deploys APP', { type: 'array', items: ref('DeployJob') }, { parameters: [env] }),
      },
      '/v1/apps/{app}/deploys/{id}': {
        parameters: [appParameter, { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'a deploy job id, as GET /v1/apps/{app}/deploys lists them (a number); anything else answers 400' }],
        get: withNotFound(
          stream('follows one deploy or rollback of the app, from its first event to its end (one that ended is shown again from its record, kept a week); the exit is its outcome', 'deploys:follow APP JOB'),
          "no such app, or no deploy job of that id among the app's (another app's job is answered so too)",
        ),
      },
      '/v1/apps/{app}/db': {
        parameters: [appParameter],
        get: answer(
          "the app's database on each cluster of its environment: db host, address, name, user and size; the password always masked (ssh magrathea db:info APP --reveal shows it); an app without a database answers 422",
          'db:info APP',
          { type: 'object', required: ['app', 'env', 'databases'], properties: { app: { type: 'string' }, env: { type: 'string' }, databases: { type: 'array', items: ref('DatabaseInfo') } } },
          { parameters: [env] },
        ),
      },
      '/v1/apps/{app}/logs': {
        parameters: [appParameter],
        get: stream("the app's logs from its web hosts; with follow=1, until the client goes away", 'logs APP', {
          parameters: [query('cluster', 'one cluster'), env, query('type', 'access or error', { type: 'string', enum: ['access', 'error'] }), query('n', 'lines from each host', { type: 'string', pattern: '^[0-9]+$' }), query('follow', 'with 1, keeps following', { type: 'string', enum: ['1'] })],
        }),
      },
      '/v1/audit': { get: answer('who did what, newest first (admins)', 'audit', { type: 'array', items: ref('AuditEntry') }, { parameters: [query('n', 'how many entries', { type: 'string', pattern: '^[0-9]+$' })] }) },
      '/v1/tokens': { get: answer("the caller's tokens (never the tokens themselves)", 'tokens:list', { type: 'array', items: ref('Token') }) },
      '/v1/status': { get: answer("the gateway's workers, jobs and problems (admins)", 'status', { type: 'object' }) },
      '/v1/doctor': { get: answer('every host against what the gateway deployed (admins); drift answers 422 with the report', 'doctor', { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }, { parameters: [query('cluster', 'one cluster')] }) },
      '/v1/run': {
        post: { ...stream('any command but shell, as `ssh magrathea ARGV...` runs it', 'ARGV'), requestBody: body({ type: 'object', required: ['argv'], properties: { argv: { type: 'array', minItems: 1, items: { type: 'string' } } } }) },
      },
    },
    components: {
      securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'mg_ and 43 characters, from `ssh magrathea tokens:create`' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'string' }, exit: { type: 'integer' }, code: { type: 'string' }, result: { description: "the command's report, for one that failed with one (doctor's drift)" } },
        },
        Output: { type: 'object', required: ['output'], properties: { output: { type: 'string', description: 'what the command said it did' } } },
        StreamLine: {
          oneOf: [
            { type: 'object', required: ['stdout'], additionalProperties: false, properties: { stdout: { type: 'string' }, event: ref('DeployEvent') } },
            { type: 'object', required: ['event'], additionalProperties: false, properties: { event: ref('DeployEvent') } },
            { type: 'object', required: ['stderr'], additionalProperties: false, properties: { stderr: { type: 'string' } } },
            { type: 'object', required: ['result'], additionalProperties: false, properties: { result: { description: "the command's result, as --json prints it; a deploy's or rollback's is a DeployResult" } } },
            { type: 'object', required: ['exit'], additionalProperties: false, properties: { exit: { type: 'integer' }, refused: { type: 'string' }, code: { type: 'string' } } },
          ],
        },
        DeployEvent: {
          type: 'object',
          required: ['phase', 'status', 'elapsedMs', 'message'],
          additionalProperties: false,
          properties: {
            phase: { type: 'string', enum: [...DEPLOY_PHASES] },
            status: { type: 'string', enum: ['started', 'done', 'failed', 'info', 'warning'] },
            cluster: { type: 'string' },
            host: { type: 'string' },
            release: { type: 'string' },
            elapsedMs: { type: 'integer', minimum: 0, description: 'since the deploy started on its worker' },
            message: { type: 'string', description: 'the event as one line' },
            line: { const: false, description: 'present: a terminal shows no line for this event (a host finished a step)' },
          },
        },
        DeployResult: {
          type: 'object',
          required: ['summary', 'clusters'],
          properties: {
            summary: { type: 'string', description: 'the table a terminal shows' },
            release: { type: 'string' },
            clusters: {
              type: 'array',
              items: {
                type: 'object',
                required: ['cluster', 'status', 'release', 'hosts', 'seconds'],
                properties: {
                  cluster: { type: 'string' },
                  status: { type: 'string', enum: ['live', 'failed', 'rolled-back', 'skipped'] },
                  release: { type: 'string' },
                  serving: { type: 'string', description: 'the release the cluster serves after this deploy' },
                  hosts: { type: 'integer' },
                  url: { type: 'string' },
                  seconds: { type: 'number' },
                  error: { type: 'string' },
                  transferred: { type: 'object', additionalProperties: { type: ['integer', 'null'] }, description: 'files sent to each web host (null: not counted)' },
                },
              },
            },
          },
        },
        DeployJob: {
          type: 'object',
          required: ['id', 'app', 'env', 'kind', 'ref', 'commit', 'requestedBy', 'state', 'since', 'attemptsMade'],
          additionalProperties: false,
          properties: {
            id: { type: 'string', description: 'what GET /v1/apps/{app}/deploys/{id} follows' },
            app: { type: 'string' },
            env: { type: 'string' },
            kind: { type: 'string', enum: ['deploy', 'rollback', 'reapply'], description: 'reapply: doctor --fix shipping a release again' },
            ref: { type: 'string' },
            commit: { type: 'string' },
            release: { type: 'string', description: "a rollback's (or reapply's) release; a deploy's release id comes with its events" },
            clusters: { type: 'array', items: { type: 'string' }, description: 'only these clusters; absent: all of the environment' },
            requestedBy: { type: 'string' },
            state: { type: 'string', description: "BullMQ's: active (running), waiting, delayed (a retry's wait), prioritized, waiting-children" },
            since: { type: 'string', format: 'date-time', description: 'queued at' },
            startedAt: { type: 'string', format: 'date-time', description: 'taken by a worker at' },
            attemptsMade: { type: 'integer', minimum: 0 },
          },
        },
        DatabaseInfo: {
          type: 'object',
          required: ['cluster', 'host', 'address', 'port', 'name', 'user', 'password', 'rotated', 'exists', 'bytes'],
          properties: {
            cluster: { type: 'string' },
            host: { type: 'string', description: "the db host's name in clusters.yml" },
            address: { type: 'string' },
            port: { type: 'integer' },
            name: { type: 'string' },
            user: { type: 'string' },
            password: { const: '********', description: 'always masked here' },
            rotated: { type: 'boolean', description: 'db:rotate made a new password that the next deploy sets' },
            exists: { type: 'boolean', description: 'false until a deploy made it' },
            bytes: { type: 'integer', minimum: 0, description: 'data and indexes (information_schema)' },
          },
        },
        ConfigValue: {
          type: 'object',
          required: ['path', 'value', 'layer'],
          properties: { path: { type: 'string', description: 'stack.php, env.APP_ENV, domains...' }, value: {}, layer: { type: 'string', description: 'base, environments.ENV, clusters.CLUSTER, config vars...' }, source: { type: 'string', description: 'FILE:LINE:COL' } },
        },
        Release: { type: 'object', required: ['id', 'status'], properties: { id: { type: 'string' }, status: { type: 'string' } } },
        AuditEntry: {
          type: 'object',
          required: ['user', 'command', 'exitCode', 'at'],
          properties: { user: { type: 'string' }, command: { type: 'string' }, exitCode: { type: 'integer' }, at: { type: 'string', format: 'date-time' }, from: { type: 'string' }, refused: { type: 'string' } },
        },
        Token: {
          type: 'object',
          required: ['id', 'user', 'label', 'createdAt'],
          properties: {
            id: { type: 'string', pattern: '^[0-9a-f]{12}$' },
            user: { type: 'string' },
            label: { type: 'string' },
            createdAt: { type: 'string', format: 'date-time' },
            expiresAt: { type: 'string', format: 'date-time' },
            scopes: { type: 'array', items: { type: 'string', enum: [...SCOPES] } },
          },
        },
      },
    },
  };
}
