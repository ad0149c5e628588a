import { MagratheaError } from '../core/errors.js';
import { checkName } from '../core/values.js';

/**
 * Every Redis key name of Magrathea, built here and nowhere else, all under
 * one prefix so that several gateways (or test runs) can share a Redis.
 *
 * Layout: `<prefix>:<kind>:<app>:<env>[:...]`. Names are checked with
 * checkName (a-z, 0-9, single dashes: never `:` nor a glob character), so a
 * key can never be read as another's and `<prefix>:<kind>:<app>:*` matches
 * exactly one app's keys of that kind. Kinds never contain `:`, and none is
 * a BullMQ queue name, whose keys live under `<prefix>:<queue>:` (BullMQ's
 * own layout: `wait`, `active`, `<jobId>`, `events`...).
 */
export const DEFAULT_PREFIX = 'magrathea';

/** BullMQ's queue of deploy jobs (keys `<prefix>:deploy:*`, laid out by BullMQ). */
export const DEPLOY_QUEUE = 'deploy';

/** BullMQ's queue of accounting jobs, one run every interval by its job scheduler (keys `<prefix>:accounting:*`, laid out by BullMQ). */
export const ACCOUNTING_QUEUE = 'accounting';

/** BullMQ's queue of database backup jobs, one run every backups.schedule by its job scheduler (keys `<prefix>:db-backups:*`, laid out by BullMQ). */
export const BACKUP_QUEUE = 'db-backups';

const PREFIX = /^[A-Za-z0-9_.{}-]{1,64}$/;

export interface Keys {
  /** The prefix of every key, and BullMQ's `prefix` option. */
  readonly prefix: string;
  /** STRING: the number of the last release of app+env (INCR gives the next: `r<n>`). */
  releaseCounter(app: string, env: string): string;
  /** LIST: the release ids of app+env, newest first (LPUSH). */
  releaseList(app: string, env: string): string;
  /** HASH: one release (id `r<n>`): id, number, app, env, commit, ref, createdAt, requestedBy, status, updatedAt, message?, jobId?. */
  release(app: string, env: string, id: string): string;
  /** SET: the environments of app that have releases (what `releases APP` lists). */
  releaseEnvs(app: string): string;
  /** HASH: host name → release id that host serves, for one cluster of app+env. */
  hostReleases(app: string, env: string, cluster: string): string;
  /** HASH: cluster → JSON `{release, switchedAt}`: the release each instance (app+env@cluster) is on. */
  instanceReleases(app: string, env: string): string;
  /** STRING with expiry: the token of the deploy job that holds app+env (one deploy at a time). */
  deployLock(app: string, env: string): string;
  /** LIST: deploy job ids of app+env in arrival order; only the head may take the lock (FIFO). */
  deployOrder(app: string, env: string): string;
  /** STREAM: one deploy job's progress: `line`, `progress`, then one `result` or `failed` entry. Expires. */
  deployProgress(jobId: string): string;
  /** HASH: `<app>.<env>` → JSON InstanceConfig of every instance live on a cluster (its edge files are rendered from all of them). */
  clusterInstances(cluster: string): string;
  /** Glob matching the clusterInstances hash of every cluster (SCAN MATCH), for destroying an app's state. */
  everyClusterInstances(): string;
  /** STRING with expiry: the deploy that holds a cluster's shared files (VCL, HAProxy map: rendered from all its instances). */
  clusterLock(cluster: string): string;
  /** STRING with expiry: the push (its receive-pack) that holds app+env from its pre-receive hook until its branch moved. */
  pushLock(app: string, env: string): string;
  /** HASH: KEY → value, config vars of app+env (no cluster) or of app+env on one cluster (`config:set app@cluster`). */
  configVars(app: string, env: string, cluster?: string): string;
  /** STREAM: who did what, when, with which outcome (`audit` for admins). */
  audit(): string;
  /** HASH: cluster → JSON InstanceConfig a release went live with there (what a rollback to it re-applies). */
  releaseInstances(app: string, env: string, id: string): string;
  /** STRING: JSON EdgeLogCursor of a cache host's edge log: inode, offset after the last line counted, bytes before it. */
  edgeCursor(cluster: string, host: string): string;
  /** HASH with expiry: `<cluster>:<metric>` → count, for one hour (`YYYYMMDDHH`, UTC) of app+env; metrics: requests, in, out, 1xx..5xx, other. */
  traffic(app: string, env: string, hour: string): string;
  /** SET: the environments of app that have traffic (what `usage APP` reads). */
  trafficEnvs(app: string): string;
  /** HASH: `<app>.<env>` → bytes of disk that instance uses on one host, and `@at` → when measured (ISO 8601). Replaced at each visit. */
  hostDisk(cluster: string, host: string): string;
  /** HASH with expiry: `<cluster>:<host>` → the most bytes of disk seen that day (`YYYYMMDD`, UTC), `<cluster>:<host>:last` → the last. */
  diskDay(app: string, env: string, day: string): string;
  /** HASH: `<app>.<env>` → bytes its database holds on the cluster's db host (data and indexes), `@at` → when measured, `@host` → where. Replaced at each visit. */
  databaseSizes(cluster: string): string;
  /** HASH: database name → JSON `{database, user}`, the ids of that database and its user in the cluster's ISPConfig panel (web_database, web_database_user). */
  panelDatabaseIds(cluster: string): string;
  /** STRING with expiry: JSON `{fingerprint, login, at}`, what `status` last found logging in to the cluster's ISPConfig panel (not asked again meanwhile: failed logins lock the gateway out). */
  panelLogin(cluster: string): string;
  /** HASH: cluster → JSON `{at, ok, differences, unreachable}` of the last `doctor` of that cluster (what `status` reports). */
  doctorRuns(): string;
  /** HASH: `<cluster>:<host>` → JSON HostVisit, the accounting job's last visit of that host (when, what it read, its error). */
  accountingVisits(): string;
  /** STRING: JSON ApiToken of the HTTP API token whose SHA-256 is `digest` (hex): who it is, its id and label. The token itself is never stored. */
  apiToken(digest: string): string;
  /** HASH: token id → token digest, the HTTP API tokens of one user (`tokens:list`, `tokens:revoke`). */
  apiTokens(user: string): string;
  /** HASH: cluster → the password of app+env's ACL user on that cluster's session store; made once, kept until the app is destroyed. */
  sessionPasswords(app: string, env: string): string;
  /** HASH: cluster → the password of app+env's database user on that cluster's db host; made once, replaced by db:rotate, kept until the database is destroyed. */
  databasePasswords(app: string, env: string): string;
  /** Glob matching every key of `kind` for app (SCAN MATCH `<prefix>:<kind>:<app>:*`), for destroying an app's state. */
  appPattern(kind: AppKeyKind, app: string): string;
  /** Glob matching every key of `kind` for app+env with more parts after it (SCAN MATCH `<prefix>:<kind>:<app>:<env>:*`), for removing one review instance's state. */
  envPattern(kind: AppKeyKind, app: string, env: string): string;
  /** HASH: review instance (env name, `review-x`) → the branch it belongs to: a second branch of the same slug is refused. */
  reviewBranches(app: string): string;
}

/** Kinds of per-app+env keys, as laid out above (`release-envs` is one key per app, not a pattern). */
export type AppKeyKind = 'release-seq' | 'releases' | 'release' | 'release-instances' | 'push-lock' | 'config-vars' | 'host-release' | 'instance-release' | 'deploy-lock' | 'deploy-order' | 'traffic' | 'disk-day' | 'session-passwords' | 'database-passwords';

/** Key names under `prefix` (default `magrathea`). Throws on a prefix that could be read as a glob or a separator. */
export function createKeys(prefix: string = DEFAULT_PREFIX): Keys {
  if (!PREFIX.test(prefix)) {
    throw new MagratheaError(`invalid Redis key prefix ${JSON.stringify(prefix)}: 1 to 64 characters of A-Z, a-z, 0-9, _ . - { }`, 'invalid-input', 2);
  }
  const key = (kind: AppKeyKind | 'release-envs' | 'review-branches' | 'deploy-progress' | 'cluster-instances' | 'cluster-lock' | 'edge-cursor' | 'traffic-envs' | 'host-disk' | 'database-sizes' | 'panel-database-ids' | 'panel-login' | 'accounting-visits' | 'doctor-runs' | 'api-token' | 'api-tokens', ...parts: string[]) =>
    [prefix, kind, ...parts].join(':');
  return {
    prefix,
    releaseCounter: (app, env) => key('release-seq', name(app), name(env)),
    releaseList: (app, env) => key('releases', name(app), name(env)),
    release: (app, env, id) => key('release', name(app), name(env), releaseId(id)),
    releaseEnvs: (app) => key('release-envs', name(app)),
    hostReleases: (app, env, cluster) => key('host-release', name(app), name(env), name(cluster)),
    instanceReleases: (app, env) => key('instance-release', name(app), name(env)),
    deployLock: (app, env) => key('deploy-lock', name(app), name(env)),
    deployOrder: (app, env) => key('deploy-order', name(app), name(env)),
    deployProgress: (jobId) => key('deploy-progress', jobIdPart(jobId)),
    clusterInstances: (cluster) => key('cluster-instances', name(cluster)),
    // A cluster name is never `*` (checkName): the glob matches every cluster's hash and nothing else.
    everyClusterInstances: () => key('cluster-instances', '*'),
    pushLock: (app, env) => key('push-lock', name(app), name(env)),
    clusterLock: (cluster) => key('cluster-lock', name(cluster)),
    configVars: (app, env, cluster) => (cluster === undefined ? key('config-vars', name(app), name(env)) : key('config-vars', name(app), name(env), name(cluster))),
    audit: () => `${prefix}:audit`,
    releaseInstances: (app, env, id) => key('release-instances', name(app), name(env), releaseId(id)),
    edgeCursor: (cluster, host) => key('edge-cursor', name(cluster), name(host)),
    traffic: (app, env, hour) => key('traffic', name(app), name(env), digits(hour, 10, 'an hour (YYYYMMDDHH)')),
    trafficEnvs: (app) => key('traffic-envs', name(app)),
    hostDisk: (cluster, host) => key('host-disk', name(cluster), name(host)),
    diskDay: (app, env, day) => key('disk-day', name(app), name(env), digits(day, 8, 'a day (YYYYMMDD)')),
    databaseSizes: (cluster) => key('database-sizes', name(cluster)),
    panelDatabaseIds: (cluster) => key('panel-database-ids', name(cluster)),
    panelLogin: (cluster) => key('panel-login', name(cluster)),
    accountingVisits: () => key('accounting-visits'),
    doctorRuns: () => key('doctor-runs'),
    apiToken: (digest) => key('api-token', hex64(digest)),
    apiTokens: (user) => key('api-tokens', name(user)),
    sessionPasswords: (app, env) => key('session-passwords', name(app), name(env)),
    databasePasswords: (app, env) => key('database-passwords', name(app), name(env)),
    // The `:` before `*` keeps `myapp` from matching `myapp2`'s keys.
    appPattern: (kind, app) => `${key(kind, name(app))}:*`,
    envPattern: (kind, app, env) => `${key(kind, name(app), name(env))}:*`,
    reviewBranches: (app) => key('review-branches', name(app)),
  };
}

// A name reaching a key is checked again here: a `:` or `*` in it would let one app read or destroy another's keys.
function name(value: string): string {
  const problem = checkName(value);
  if (problem) throw new MagratheaError(problem, 'invalid-input', 2);
  return value;
}

function releaseId(value: string): string {
  if (!/^r[1-9][0-9]{0,15}$/.test(value)) throw new MagratheaError(`${JSON.stringify(value)} is not a release id (r1, r2, ...)`, 'invalid-input', 2);
  return value;
}

function digits(value: string, length: number, what: string): string {
  if (value.length !== length || !/^[0-9]+$/.test(value)) throw new MagratheaError(`${JSON.stringify(value)} is not ${what}`, 'invalid-input', 2);
  return value;
}

function hex64(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value)) throw new MagratheaError('an API token digest is 64 hex digits', 'invalid-input', 2);
  return value;
}

function jobIdPart(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(value)) throw new MagratheaError(`${JSON.stringify(value)} is not a deploy job id`, 'invalid-input', 2);
  return value;
}
