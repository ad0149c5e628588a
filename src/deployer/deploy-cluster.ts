import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, tail } from '../adapters/exec.js';
import { HostSession, type SshSettings } from '../adapters/ssh.js';
import type { ClusterConfig, HostConfig } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';
import type { InstanceConfig } from '../core/manifest/types.js';
import type { ProgressLog } from '../core/deploy-event.js';
import { databaseClients, databaseCredentials, databaseEnv, databaseHost, type DatabaseCredentials } from '../core/database.js';
import { escapeTemplate } from '../core/interpolate.js';
import { withDatabaseProvider } from './database.js';
import { renderCluster, type RenderedFile, type Service } from '../core/render/cluster.js';
import { formatProblem } from '../core/source.js';
import { fpmPoolDir, instanceId, instanceRoot, instanceStorage, logDir, unixId, unixUser } from '../core/render/names.js';
import { writeRendered } from '../host-config/write.js';
import { needsStickySessions } from '../core/render/sessions.js';
import { mainVclPath } from '../core/render/varnish.js';
import { forEachSettled } from '../lib/settle.js';
import { agent, agentArgv } from './agent.js';
import { envFile } from './env-file.js';
import { checkFpmReloadOutput } from './host-requirements.js';
import { checkPhpExtensions } from './php-extensions.js';
import { checkArgv, reloadArgv, varnishApply, varnishBan, varnishDiscard, varnishMissing, varnishPreload, varnishSwitch, varnishUnload, type PreloadedVcls } from './services.js';
import { ensureSessionUsers } from './session-store.js';
import type { ClusterOutcome, DeployState, Step } from './types.js';

/** How long a health check may take to pass after the switch, for an instance saved before `health.timeout` (its default). */
const VERIFY_SECONDS = 30;

/** The user the web server runs as on web hosts: Debian's. It joins each instance's group to read its files. */
export const WEB_SERVER_USER = 'www-data';

/** The release hook's time limit: the app's `hooks.timeout`, never above the gateway's (default 10 minutes). */
export function hookSeconds(instance: InstanceConfig, limit = DEFAULT_HOOK_SECONDS): number {
  return Math.min(instance.hooks.timeoutSeconds ?? limit, limit);
}
const DEFAULT_HOOK_SECONDS = 600;

export interface ClusterDeployInput {
  cluster: ClusterConfig;
  instance: InstanceConfig;
  release: string;
  /** The built release tree on the gateway; without it, the release must already be on the hosts (a rollback). */
  source?: string;
  /** PHP extensions the release's composer.json requires: each web host must have them, checked before the switch. Default none. */
  extensions?: readonly string[];
  /** Run the manifest's release hook. Default true (a rollback skips it: migrations do not run backwards). */
  runHook?: boolean;
  keepReleases: number;
  /** The longest a release hook may run (gateway.yml `release_hook_timeout`). Default 10 minutes. */
  hookTimeoutSeconds?: number;
  /** Ship, check and reload every config file of the cluster, not only the ones that differ from the live render (the hosts may not hold it). Default false. */
  force?: boolean;
  /** Who deploys (the job id): a rerun of the same job takes its cluster lock back. Default: this call only. */
  owner?: string;
  ssh: SshSettings;
  state: DeployState;
  log: ProgressLog;
}

/** A failure at one step on one host: the one line a human reads. */
export class StepError extends MagratheaError {
  constructor(
    readonly host: string,
    readonly step: Step,
    cause: unknown,
  ) {
    super(`${host}: ${step}: ${describe(cause)}`, 'deploy-step-failed', 1, cause instanceof MagratheaError && cause.retryable, { cause });
    this.name = 'StepError';
  }
}

/**
 * Deploys one release of one instance to one cluster: prepare every host in
 * parallel (release synced, shared dirs linked, env written, configs staged
 * and checked on the host by the real tools), the release hook once, then
 * every host switched together (configs, `current`, graceful reloads, cache
 * ban), verified through every web host and the edge, and put back on the
 * previous release and configs if anything after the switch fails.
 * Before the switch a failure changes nothing that is served.
 */
export async function deployCluster(input: ClusterDeployInput): Promise<ClusterOutcome> {
  const { cluster } = input;
  const sessions = new Map(cluster.hosts.map((h) => [h.name, new HostSession({ name: h.name, address: h.address, user: h.ssh.user, port: h.ssh.port }, input.ssh)]));
  try {
    // The cluster lock covers what must be serialized: rendering, checking and switching the shared configs.
    // The release goes to the web hosts before it, into a directory of its own that nothing serves yet.
    const sending = input.source ? await sendRelease(input, input.source, sessions) : undefined;
    if (sending && 'failed' in sending) return sending.failed;
    const sent = sending?.sent;
    const owner = input.owner ?? `${hostname()}:${process.pid}:${randomUUID()}`;
    return await input.state.withClusterLock(cluster.name, owner, () => input.log(`${cluster.name}: waiting for another deploy on this cluster`, { phase: 'wait', status: 'started', cluster: cluster.name }), () => deployLocked(input, sessions, sent));
  } finally {
    await Promise.all([...sessions.values()].map((s) => s.close()));
  }
}

/**
 * The release synced to every web host of the cluster (hard-linking what
 * the host's previous release has), outside the cluster lock: only the
 * instance's new release directory is written, and a first deploy's
 * instance root is made root's alone until `prepare`, under the lock, gives
 * it to the instance. Resolves to the number of files sent to each host, or
 * to the cluster's failed outcome.
 */
async function sendRelease(input: ClusterDeployInput, source: string, sessions: Map<string, HostSession>): Promise<{ sent: Record<string, number> } | { failed: ClusterOutcome }> {
  const { cluster, instance, release } = input;
  const started = Date.now();
  const web = cluster.hosts.filter((h) => h.roles.includes('web'));
  const root = instanceRoot(cluster.paths, instance);
  try {
    const previous = await input.state.hostReleases(instance.app, instance.env, cluster.name);
    await onEach(web, 'connect', (h) => sessions.get(h.name)!.open());
    input.log(`${cluster.name}: sending ${release} to ${web.length} web hosts`, { phase: 'send', status: 'started', cluster: cluster.name });
    const sent = await onEach(web, 'prepare', async (h) => {
      const before = previous[h.name];
      const result = await sessions.get(h.name)!.rsyncTo(source, `${root}/releases/${release}`, { mkdir: true, closedFrom: root, release: true, ...(before && before !== release ? { linkDest: `../${before}` } : {}) });
      const files = Number(/Number of regular files transferred: ([\d,]+)/.exec(result.stdout)?.[1]?.replaceAll(',', '') ?? NaN);
      input.log(`${cluster.name}: ${h.name}: ${release} sent (${files} files)`, { phase: 'send', status: 'done', cluster: cluster.name, host: h.name, line: false });
      return files;
    });
    return { sent: Object.fromEntries(web.map((h, i) => [h.name, sent[i]!])) };
  } catch (e) {
    return { failed: { cluster: cluster.name, status: 'failed', release, hosts: cluster.hosts.length, url: cluster.edge, seconds: (Date.now() - started) / 1000, error: `${cluster.name}: ${describe(e)}` } };
  }
}

/**
 * The database credentials of each instance that declares a database,
 * `<app>.<env>` → credentials; a deploy of one to a cluster without a db
 * host is refused before anything changes.
 */
async function databaseCredentialsOf(cluster: ClusterConfig, instances: readonly InstanceConfig[], state: DeployState, applied = false): Promise<Map<string, DatabaseCredentials>> {
  const wanting = instances.filter((i) => i.database);
  if (wanting.length === 0) return new Map();
  if (!cluster.db) {
    const i = wanting.at(-1)!;
    throw new MagratheaError(`${cluster.name}: ${i.app} (${i.env}) declares a database (database.engine: mysql in magrathea.yml), and cluster ${cluster.name} has no host of role db in clusters.yml`, 'no-db-host');
  }
  const passwords = await (applied ? state.appliedDatabasePasswords(cluster.name, wanting) : state.databasePasswords(cluster.name, wanting));
  return new Map(wanting.map((i) => [instanceId(i), databaseCredentials(i, { ...cluster, db: cluster.db! }, passwords[instanceId(i)]!)]));
}

/**
 * Every Magrathea file of the cluster as its live instances (as the last
 * deploys recorded them, with the database passwords their hosts have)
 * render it: what the hosts must hold now.
 */
export async function renderLive(cluster: ClusterConfig, state: DeployState, live: readonly InstanceConfig[]): Promise<RenderedFile[]> {
  const sessionPasswords = cluster.sessions ? await state.sessionPasswords(cluster.name, [...live]) : undefined;
  const applied = await databaseCredentialsOf(cluster, live, state, true);
  const rendered = renderCluster(cluster, live.map((i) => withDatabaseEnv(i, applied.get(instanceId(i)))), { sessionPasswords });
  if ('problems' in rendered) throw new MagratheaError(`${cluster.name}: ${rendered.problems.map(formatProblem).join('; ')}`, 'render-failed');
  return rendered.files;
}

/** The instance with its database's variables in its env (values taken literally: `$` escaped for the templates). */
function withDatabaseEnv(instance: InstanceConfig, credentials: DatabaseCredentials | undefined): InstanceConfig {
  if (!credentials || !instance.database) return instance;
  const env = Object.fromEntries(Object.entries(databaseEnv(instance.database, credentials)).map(([k, v]) => [k, escapeTemplate(v)]));
  return { ...instance, envTemplates: { ...instance.envTemplates, ...env } };
}

async function deployLocked(input: ClusterDeployInput, sessions: Map<string, HostSession>, sent: Record<string, number> | undefined): Promise<ClusterOutcome> {
  const { cluster, instance, release, state, log } = input;
  const started = Date.now();
  const outcome: ClusterOutcome = { cluster: cluster.name, status: 'failed', release, hosts: cluster.hosts.length, url: cluster.edge, seconds: 0 };
  const previous = await state.hostReleases(instance.app, instance.env, cluster.name);
  const live = await state.clusterInstances(cluster.name);
  const others = live.filter((i) => instanceId(i) !== instanceId(instance));
  const clash = others.find((i) => unixId(i) === unixId(instance));
  if (clash) throw new MagratheaError(`${cluster.name}: ${instanceId(instance)} and ${instanceId(clash)} would get the same uid ${unixId(instance)} (it is derived from the instance's name): deploy under another app or environment name`, 'uid-clash');
  // Every pool of the cluster is rendered: each instance's password on the session store, made for those without one.
  const sessionPasswords = cluster.sessions ? await state.sessionPasswords(cluster.name, [...others, instance]) : undefined;
  // And each instance's database, its credentials given to the app as its env (for every instance: their pools are rendered too):
  // this instance's current password (a db:rotate takes effect now), the others' as their hosts have them.
  const databases = await databaseCredentialsOf(cluster, [...others, instance], state);
  const applied = await databaseCredentialsOf(cluster, live, state, true);
  const withDatabase = (i: InstanceConfig): InstanceConfig => withDatabaseEnv(i, databases.get(instanceId(i)));
  const withApplied = (i: InstanceConfig): InstanceConfig => withDatabaseEnv(i, applied.get(instanceId(i)));
  const rendered = renderCluster(cluster, [...others.map(withApplied), withDatabase(instance)], { sessionPasswords });
  if ('problems' in rendered) throw new MagratheaError(`${cluster.name}: ${rendered.problems.map(formatProblem).join('; ')}`, 'render-failed');
  // What changed against the cluster as its hosts have it (without this instance on its first deploy): a first deploy
  // used to count every file as changed, and had the cache compile every instance's VCL again (bench:scale: 35 s at 100 apps).
  const files = input.force ? [...rendered.files] : changedFiles(rendered.files, renderCluster(cluster, live.map(withApplied), { sessionPasswords }));
  if (needsStickySessions(cluster)) {
    log(`${cluster.name}: warning: no session store: PHP sessions are files on each web host, so each browser is pinned to one (a cookie); declare a host of role sessions in clusters.yml to share them`, { phase: 'prepare', status: 'warning', cluster: cluster.name });
  }

  const staging = `${cluster.paths.apps}/.magrathea/staging/${instanceId(instance)}.${release}`;
  const local = await mkdtemp(join(tmpdir(), 'magrathea-stage-'));
  const web = cluster.hosts.filter((h) => h.roles.includes('web'));
  const ctx: HostContext = { cluster, instance: withDatabase(instance), release, files, rendered: rendered.files, staging, local, sessions, sent, previous, switched: new Set(), log, extensions: input.extensions ?? [], instances: [...others, instance], sessionPasswords, labels: new Map(), preloaded: new Map(), idle: new Map(), verified: new Map() };
  let switched = false;
  try {
    await onEach(cluster.hosts, 'connect', (h) => sessions.get(h.name)!.open());
    const own = databases.get(instanceId(instance));
    if (own && cluster.db) {
      // Before the release hook, so that its migrations find the database; idempotent, and nothing served changes.
      log(`${cluster.name}: database ${own.name} on ${cluster.db.host}`, { phase: 'database', status: 'started', cluster: cluster.name });
      const clients = databaseClients(cluster);
      const ids = state.panelDatabaseIds?.(cluster.name);
      await onEach([databaseHost(cluster)], 'database', (h) => withDatabaseProvider(cluster, sessions.get(h.name)!, (provider) => provider.ensure(own, clients), { log, ...(ids ? { ids } : {}) }));
    }
    log(`${cluster.name}: preparing ${cluster.hosts.length} hosts`, { phase: 'prepare', status: 'started', cluster: cluster.name });
    const unchanged = rendered.files.length - files.length;
    if (unchanged > 0) log(`${cluster.name}: ${unchanged} of ${rendered.files.length} config files unchanged: their services are not checked or reloaded`, { phase: 'prepare', cluster: cluster.name });
    // Each host's checks start as soon as what they read is there: the edge's configs are checked while the web hosts still receive the release.
    const work = new Map(cluster.hosts.map((h) => [h.name, prepareHost(ctx, h)]));
    const [prepared, checked] = await Promise.allSettled([
      onEach(cluster.hosts, 'prepare', (h) => work.get(h.name)!.done.then((sent) => (hostDone(ctx, h, 'prepare'), sent))),
      onEach(cluster.hosts, 'check', (h) => checkHost(ctx, h, work.get(h.name)!).then(() => hostDone(ctx, h, 'check'))),
    ]);
    if (prepared.status === 'rejected') throw prepared.reason;
    if (checked.status === 'rejected') throw checked.reason;
    outcome.transferred = Object.fromEntries(cluster.hosts.map((h, i) => [h.name, prepared.value[i]!]).filter(([, n]) => n !== -1));
    if (instance.hooks.release && input.runHook !== false) {
      const host = web[0]!;
      log(`${cluster.name}: release hook on ${host.name}: ${instance.hooks.release}`, { phase: 'hook', status: 'started', cluster: cluster.name, host: host.name });
      const seconds = hookSeconds(instance, input.hookTimeoutSeconds);
      await onEach([host], 'hook', (h) =>
        agent(sessions.get(h.name)!, 'hook', [unixUser(instance), instanceRoot(cluster.paths, instance), release, String(seconds), instance.hooks.release!], {
          onLine: (l) => log(`  ${l}`, { cluster: cluster.name, host: host.name }),
          // The host stops the hook at its timeout; this one is for a host that stops answering.
          timeout: (seconds + 60) * 1000,
        }),
      );
    }
    log(`${cluster.name}: switching ${cluster.hosts.length} hosts to ${release}`, { phase: 'switch', status: 'started', cluster: cluster.name });
    switched = true;
    await onEach(cluster.hosts, 'activate', (h) => activateHost(ctx, h).then(() => hostDone(ctx, h, 'activate')));
    await onEach(cluster.hosts, 'verify', (h) => verifyHost(ctx, h, ctx.verified).then(() => hostDone(ctx, h, 'verify')));
    await state.recordSwitch(instance.app, instance.env, cluster.name, release, web.map((h) => h.name));
    await state.saveInstance(instance, release);
    if (databases.has(instanceId(instance))) await state.databasePasswordApplied(cluster.name, instance);
    outcome.status = 'live';
    outcome.serving = release;
    log(`${cluster.name}: ${release} is live on ${cluster.hosts.length} hosts`, { phase: 'verify', status: 'done', cluster: cluster.name, line: false });
    await onEach(cluster.hosts, 'cleanup', (h) => cleanupHost(ctx, h, input.keepReleases)).catch((e) => log(`${cluster.name}: ${describe(e)} (the release is live)`, { phase: 'cleanup', status: 'warning', cluster: cluster.name }));
  } catch (e) {
    outcome.error = `${cluster.name}: ${describe(e)}`;
    if (switched) {
      log(`${cluster.name}: ${describe(e)}; switching every host back`, { phase: 'rollback', status: 'started', cluster: cluster.name, ...(e instanceof StepError ? { host: e.host } : {}) });
      // Switched back, and checked like a deploy: the call returns once the previous release is served again,
      // as the previous configuration says (its health path, status, time and domain: this deploy may have changed them).
      const before = live.find((i) => instanceId(i) === instanceId(instance));
      const checkBack: HostContext = before ? { ...ctx, instance: withApplied(before) } : ctx;
      const back = await onEach(cluster.hosts, 'rollback', (h) => rollbackHost(ctx, h).then(() => (Object.keys(previous).length > 0 ? verifyHost(checkBack, h) : undefined))).then(
        () => undefined,
        (r) => describe(r),
      );
      outcome.status = 'rolled-back';
      outcome.serving = previousRelease(ctx) ?? 'nothing';
      if (back) outcome.error += `; rollback failed too: ${back}`;
    }
    const staged = cluster.hosts.filter((h) => files.some((f) => f.host === h.name));
    await onEach(staged, 'cleanup', (h) => sessions.get(h.name)!.exec(['rm', '-rf', staging]).then(() => undefined)).catch(() => undefined);
    // VCLs loaded for a switch that did not come (after one, the rollback's loads replaced them and discarded these).
    if (!switched) await Promise.all([...ctx.preloaded].map(([h, loaded]) => varnishUnload(sessions.get(h)!, cluster, loaded).catch(() => undefined)));
  } finally {
    outcome.seconds = (Date.now() - started) / 1000;
    await rm(local, { recursive: true, force: true });
  }
  return outcome;
}

interface HostContext {
  cluster: ClusterConfig;
  instance: InstanceConfig;
  release: string;
  /** The files to ship: the changed ones (the edge's missing ones are added at prepare). */
  files: RenderedFile[];
  /** Every file of the cluster, as this deploy renders it. */
  rendered: RenderedFile[];
  staging: string;
  local: string;
  sessions: Map<string, HostSession>;
  /** Files sent to each web host with the release, before the lock; undefined when the release was on the hosts already (a rollback). */
  sent: Record<string, number> | undefined;
  previous: Record<string, string>;
  log: ProgressLog;
  /** Hosts whose `current` now points at the new release: the ones to switch back. */
  switched: Set<string>;
  extensions: readonly string[];
  /** Every instance of the cluster once this one is live, and their session store passwords (with a store). */
  instances: InstanceConfig[];
  sessionPasswords: Record<string, string> | undefined;
  /** Each cache's labels, as it had them before this deploy. */
  labels: Map<string, ReadonlySet<string>>;
  /** Each cache's VCLs of this deploy, compiled and loaded by the check; made to serve by the switch. */
  preloaded: Map<string, PreloadedVcls>;
  /** Each cache's VCLs that no longer serve after the switch: discarded by the cleanup. */
  idle: Map<string, string[]>;
  /** Web hosts whose switch call also checked their own port (what it found wrong, if anything): the verify step does the rest. */
  verified: Map<string, Error | undefined>;
}

/** One host's end of a step, for the structured stream only (the lines say what the cluster does). */
function hostDone(ctx: HostContext, host: HostConfig, step: Step): void {
  ctx.log(`${ctx.cluster.name}: ${host.name}: ${step} done`, { phase: step, status: 'done', cluster: ctx.cluster.name, host: host.name, line: false });
}

/** Runs `action` on every host in parallel; the first failure (by host order) names its host and step. */
export async function onEach<T>(hosts: HostConfig[], step: Step, action: (host: HostConfig) => Promise<T>): Promise<T[]> {
  const results = await Promise.allSettled(hosts.map(action));
  const failed = results.findIndex((r) => r.status === 'rejected');
  if (failed >= 0) throw new StepError(hosts[failed]!.name, step, (results[failed] as PromiseRejectedResult).reason);
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * The files to ship: all of them, unless the cluster's live instances (as
 * recorded by the last deploys) render some identically; those services
 * need no check and no reload. A service keeps all its files of a host when
 * any of them changed: its check reads them together. Except Varnish: each
 * instance's VCL is compiled and loaded alone, so only the changed ones go.
 */
function changedFiles(next: RenderedFile[], before: ReturnType<typeof renderCluster>): RenderedFile[] {
  if ('problems' in before) return next;
  const old = new Map(before.files.map((f) => [`${f.host}\u0000${f.path}`, f.content]));
  const key = (f: RenderedFile) => `${f.host}\u0000${f.service}${f.service === 'varnish' && f.instance ? `\u0000${f.path}` : ''}`;
  const changed = new Set(next.filter((f) => old.get(`${f.host}\u0000${f.path}`) !== f.content).map(key));
  return next.filter((f) => changed.has(key(f)));
}

/** One host's prepare under way: its configs staged, its release in place; `done` says how many files rsync sent. */
interface HostPrepare {
  staged: Promise<void>;
  release: Promise<number>;
  /** -1 for hosts that get no release, 0 for a release already there. */
  done: Promise<number>;
}

function prepareHost(ctx: HostContext, host: HostConfig): HostPrepare {
  // The configs and the release travel at the same time: two rsyncs over the host's one connection.
  // The session store's users before any pool that logs in as them is switched to (each deploy renders every pool).
  const store = ctx.cluster.sessions?.host === host.name ? ensureSessionUsers(ctx.sessions.get(host.name)!, ctx.cluster.sessions, ctx.instances, ctx.sessionPasswords!) : undefined;
  // A cache's missing VCLs join this deploy's files before they are staged.
  const staged = (host.roles.includes('cache') ? addMissingVcls(ctx, host) : Promise.resolve()).then(() => stageConfigs(ctx, host));
  const release = host.roles.includes('web') ? prepareRelease(ctx, host) : Promise.resolve(-1);
  return { staged, release, done: Promise.all([staged, release, store]).then(([, sent]) => sent) };
}

/**
 * The VCLs a cache lacks although no file changed (started without
 * boot.cli, or holding a VCL from before labels): shipped, checked and
 * loaded with this deploy's, so that its main VCL finds every label.
 */
async function addMissingVcls(ctx: HostContext, host: HostConfig): Promise<void> {
  const { missing, mainActive, labels } = await varnishMissing(ctx.sessions.get(host.name)!, ctx.cluster, ctx.instances);
  ctx.labels.set(host.name, labels);
  const wanted = new Set(missing.map(instanceId));
  const add = ctx.rendered.filter((f) => f.host === host.name && f.service === 'varnish' && (f.instance ? wanted.has(instanceId(f.instance)) : !mainActive || missing.length > 0));
  for (const f of add) if (!ctx.files.some((g) => g.host === f.host && g.path === f.path)) ctx.files.push(f);
}

/** This host's changed config files, staged for the check and the switch (none changed: nothing staged). */
async function stageConfigs(ctx: HostContext, host: HostConfig): Promise<void> {
  const files = ctx.files.filter((f) => f.host === host.name);
  if (files.length === 0) return;
  await mkdir(join(ctx.local, ctx.cluster.name, host.name), { recursive: true });
  await writeRendered(ctx.local, ctx.cluster.name, files);
  await ctx.sessions.get(host.name)!.rsyncTo(join(ctx.local, ctx.cluster.name, host.name), ctx.staging, { mkdir: true });
}

/** The release on a web host (sent before the lock, or already there for a rollback): its user, shared links and env file. */
async function prepareRelease(ctx: HostContext, host: HostConfig): Promise<number> {
  const session = ctx.sessions.get(host.name)!;
  const { cluster, instance, release } = ctx;
  const root = instanceRoot(cluster.paths, instance);
  const sent = ctx.sent?.[host.name];
  if (sent === undefined) {
    await session.exec(['test', '-d', `${root}/releases/${release}`]).catch(() => {
      throw new MagratheaError(`release ${release} is no longer on ${host.name} (only the last releases are kept)`, 'release-gone');
    });
  }
  const prepared = await agent(session, 'prepare', prepareArgs(cluster, instance, release), { input: envFile(instance, host) });
  // Apache's workers take their groups when they start: a graceful restart (of the configuration
  // it serves now) lets them into the instance's root at once, which matters when a host that ran an
  // older version has its instance roots closed to others by this deploy while they serve traffic.
  // An instance not live on the host serves nothing yet: the switch's graceful restart (its vhost changes) is enough.
  const switchRestarts = prepared.stdout.includes('not-live') && ctx.files.some((f) => f.host === host.name && f.service === 'apache');
  if (prepared.stdout.includes('web-groups-changed') && !switchRestarts) await session.exec(reloadArgv(cluster, 'apache', instance.php));
  for (const line of prepared.stdout.split('\n')) if (line.startsWith('warning: ')) ctx.log(`${cluster.name}: ${host.name}: ${line}`, { phase: 'prepare', status: 'warning', cluster: cluster.name, host: host.name });
  return sent ?? 0;
}

/** The host agent's `prepare` of an instance's release on a web host (its user, dirs, shared links; the env file, `envFile`, on stdin). */
export function prepareArgs(cluster: ClusterConfig, instance: InstanceConfig, release: string): string[] {
  const storage = cluster.storage ? ['--storage', cluster.storage, instanceStorage(cluster.storage, instance)] : [];
  return [unixUser(instance), instanceId(instance), instanceRoot(cluster.paths, instance), logDir(cluster.paths, instance), WEB_SERVER_USER, release, '--uid', String(unixId(instance)), ...storage, '--', ...instance.shared];
}

/**
 * The host's services, checked with the staged files in place, in a private
 * mount namespace on the host, each once its files are staged (Apache's and
 * FPM's once the release's prepare made the instance's user and dirs they
 * name); when the pools changed, that the switch's FPM reload will let
 * requests in flight finish (read from the staged FPM check's effective
 * configuration: a host's php-fpm.conf can change between two deploys; a
 * deploy that leaves the pools alone reloads nothing). Varnish's VCLs are compiled and
 * loaded by the running cache instead (preloadVcls). All at once; the
 * first failure in that order is the one told.
 */
async function checkHost(ctx: HostContext, host: HostConfig, prepare: HostPrepare): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  const web = host.roles.includes('web');
  // Which services to check is known once the host's files are staged (a cache's missing VCLs are added first);
  // staging the configs is quick beside the release's transfer, which the edge's checks still overlap.
  await prepare.staged;
  const mine = ctx.files.filter((f) => f.host === host.name);
  const services = [...new Set(mine.map((f) => f.service))];
  const checks: (() => Promise<unknown>)[] = [];
  if (web && ctx.extensions.length > 0) checks.push(() => checkPhpExtensions(session, ctx.instance.php, ctx.extensions));
  for (const service of services) {
    const ready = service === 'apache' || service === 'fpm' ? prepare.release : Promise.resolve();
    // Varnish's check is the running cache compiling and loading the VCLs (stronger than varnishd -C, and needed anyway).
    checks.push(() => ready.then(() => (service === 'varnish' ? preloadVcls(ctx, host, mine) : checkService(ctx, host, service, mine))));
  }
  await forEachSettled(checks, (check) => check());
}

/**
 * The cache compiles and loads this deploy's VCLs while the other checks
 * run (its own check, and the strongest): the switch only moves labels.
 */
async function preloadVcls(ctx: HostContext, host: HostConfig, mine: readonly RenderedFile[]): Promise<void> {
  const vcls = mine.filter((f) => f.service === 'varnish' && f.instance).map((f) => ({ instance: f.instance!, path: `${ctx.staging}${f.path}` }));
  const main = mainVclPath(ctx.cluster.paths.varnish);
  try {
    ctx.preloaded.set(host.name, await varnishPreload(ctx.sessions.get(host.name)!, ctx.cluster, vcls, mine.some((f) => f.path === main) ? `${ctx.staging}${main}` : undefined, ctx.labels.get(host.name) ?? new Set()));
  } catch (e) {
    // The compiler's own lines, without varnishadm's about them; they name the staged file: the one a person reads is where it goes.
    const noise = /^(magrathea-agent: varnishadm |Running VCC-compiler failed|VCL compilation failed|Command failed with error code)/;
    const output = e instanceof CommandError ? (e.stderr || e.stdout).split('\n').filter((l) => !noise.test(l.trim())).join('\n') : '';
    throw new MagratheaError(`varnish check failed: ${(tail(output) || describe(e)).replaceAll(ctx.staging, '')}`, 'check-failed', 1, false, { cause: e });
  }
}

async function checkService(ctx: HostContext, host: HostConfig, service: Service, mine: readonly RenderedFile[]): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  const dirs = configDirs(ctx, host, service);
  for (const argv of checkArgv(ctx.cluster, service, ctx.instance.php, mine)) {
    // FPM's check given one more -t prints its effective configuration: process_control_timeout is read from it.
    const fpm = service === 'fpm' && host.roles.includes('web');
    const result = await session.exec(['unshare', '--mount', '--propagation', 'private', '--', ...agentArgv('view', [ctx.staging, dirs.join(','), '--', ...argv, ...(fpm ? ['-t'] : [])])], { reject: false });
    if (result.exitCode !== 0) throw new MagratheaError(`${service} check failed: ${tail(result.stderr || result.stdout)}`, 'check-failed');
    if (fpm) checkFpmReloadOutput(result, ctx.instance.php, argv);
  }
}

function configDirs(ctx: HostContext, host: HostConfig, service: Service): string[] {
  const paths = ctx.cluster.paths;
  return [...new Set(ctx.files.filter((f) => f.host === host.name && f.service === service).map((f) => f.path.slice(0, f.path.lastIndexOf('/'))))].concat(
    service === 'fpm' ? [fpmPoolDir(paths, ctx.instance.php)] : [],
  ).filter((d, i, all) => all.indexOf(d) === i);
}

async function activateHost(ctx: HostContext, host: HostConfig): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  const { cluster, instance, release } = ctx;
  const changed = new Set(ctx.files.filter((f) => f.host === host.name).map((f) => f.service));
  if (changed.size > 0) await agent(session, 'install', [ctx.staging + '/', `${ctx.staging}.backup`]);
  if (host.roles.includes('web')) {
    ctx.switched.add(host.name);
    const root = instanceRoot(cluster.paths, instance);
    const fpm = fpmAfterSwitch(ctx, changed);
    if (changed.has('apache')) {
      await agent(session, 'switch', [root, release, ...fpm]);
      await session.exec(reloadArgv(cluster, 'apache', instance.php));
    } else {
      // Nothing else to reload: the host's own health check in the same call (one round trip less), told as the verify step's.
      await agent(session, 'switch', [root, release, '--verify', ...statusArgs(ctx, host, cluster.ports.web), ...fpm]).then(
        () => ctx.verified.set(host.name, undefined),
        (e: unknown) => {
          if (!(e instanceof CommandError && e.stdout.includes('verifying'))) throw e;
          ctx.verified.set(host.name, e);
        },
      );
    }
  }
  if (host.roles.includes('cache')) {
    const loaded = ctx.preloaded.get(host.name);
    if (loaded) ctx.idle.set(host.name, await varnishSwitch(session, cluster, loaded, instance.domains));
    else await varnishBan(session, cluster, instance.domains);
  }
  if (host.roles.includes('balancer') && changed.has('haproxy')) await session.exec(reloadArgv(cluster, 'haproxy', instance.php));
}

/**
 * What follows a switch of `current` on a web host, in the same call:
 * PHP-FPM reloaded when the host's pools changed (it reads them only then),
 * else only the instance's own workers replaced (their realpath caches name
 * the old release; OPcache is keyed by real paths, opcache.revalidate_path
 * in the pool). Reloading PHP-FPM would restart every app's pool on the
 * host and empty OPcache for all of them.
 */
function fpmAfterSwitch(ctx: HostContext, changed: ReadonlySet<Service>): string[] {
  return changed.has('fpm') ? ['--', ...reloadArgv(ctx.cluster, 'fpm', ctx.instance.php)] : ['--workers', unixUser(ctx.instance)];
}

/** The cache loads the VCLs shipped to it (after a restore: as they are back), and main.vcl when it was shipped. */
function applyVcls(ctx: HostContext, host: HostConfig): Promise<void> {
  const mine = ctx.files.filter((f) => f.host === host.name && f.service === 'varnish');
  const instances = mine.flatMap((f) => (f.instance ? [f.instance] : []));
  return varnishApply(ctx.sessions.get(host.name)!, ctx.cluster, instances, mine.some((f) => f.path === mainVclPath(ctx.cluster.paths.varnish)));
}

/** The host agent's `status` arguments for the instance's health check at `port` of the host. */
function statusArgs(ctx: HostContext, host: HostConfig, port: number): string[] {
  const { instance } = ctx;
  const domain = instance.domains[0] ?? `${instanceId(instance)}.invalid`;
  return [String(instance.health.status), `http://${host.address}:${port}${instance.health.path}`, domain, String(instance.health.timeoutSeconds ?? VERIFY_SECONDS)];
}

/** The health check through the host's web server and balancer; `checked`: web hosts whose switch checked their web server already. */
async function verifyHost(ctx: HostContext, host: HostConfig, checked?: ReadonlyMap<string, Error | undefined>): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  const { ports } = ctx.cluster;
  if (checked?.has(host.name)) {
    const failure = checked.get(host.name);
    if (failure) throw failure;
  } else if (host.roles.includes('web')) {
    await agent(session, 'status', statusArgs(ctx, host, ports.web));
  }
  if (host.roles.includes('balancer')) await agent(session, 'status', statusArgs(ctx, host, ports.balancer));
}

async function rollbackHost(ctx: HostContext, host: HostConfig): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  const { cluster, instance } = ctx;
  const changed = new Set(ctx.files.filter((f) => f.host === host.name).map((f) => f.service));
  if (changed.size > 0) await agent(session, 'restore', [`${ctx.staging}.backup`]);
  if (host.roles.includes('web')) {
    const previous = ctx.previous[host.name];
    if (previous && ctx.switched.has(host.name)) await agent(session, 'switch', [instanceRoot(cluster.paths, instance), previous, ...fpmAfterSwitch(ctx, changed)]);
    else if (changed.has('fpm')) await session.exec(reloadArgv(cluster, 'fpm', instance.php));
    if (changed.has('apache')) await session.exec(reloadArgv(cluster, 'apache', instance.php));
  }
  if (host.roles.includes('cache')) {
    if (changed.has('varnish')) await applyVcls(ctx, host);
    await varnishBan(session, cluster, instance.domains);
  }
  if (host.roles.includes('balancer') && changed.has('haproxy')) await session.exec(reloadArgv(cluster, 'haproxy', instance.php));
  if (changed.size > 0) await session.exec(['rm', '-rf', ctx.staging, `${ctx.staging}.backup`]);
}

async function cleanupHost(ctx: HostContext, host: HostConfig, keep: number): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  const staged = ctx.files.some((f) => f.host === host.name);
  // A cache's VCLs that the switch left serving nothing, beside the rest.
  const discarded = varnishDiscard(session, ctx.cluster, ctx.idle.get(host.name) ?? []);
  if (!host.roles.includes('web')) {
    await Promise.all([staged ? session.exec(['rm', '-rf', ctx.staging, `${ctx.staging}.backup`]) : undefined, discarded]);
    return;
  }
  // One call: the staging area (when there was one) and the releases beyond keep_releases.
  const protect = [ctx.release, ctx.previous[host.name]].filter((r): r is string => Boolean(r));
  await Promise.all([agent(session, 'cleanup', [instanceRoot(ctx.cluster.paths, ctx.instance), String(keep), ...protect, ...(staged ? ['--staging', ctx.staging] : [])]), discarded]);
}

function previousRelease(ctx: HostContext): string | undefined {
  return Object.values(ctx.previous)[0];
}

/** The one line a human reads of an error from a host. */
export function describe(e: unknown): string {
  if (e instanceof StepError) return e.message;
  if (e instanceof CommandError) return `${e.command.split(' ').slice(0, 6).join(' ')}${e.command.split(' ').length > 6 ? '...' : ''} exited with ${e.exitCode}: ${tail(e.stderr || e.stdout) || 'no output'}`;
  return (e as Error).message ?? String(e);
}
