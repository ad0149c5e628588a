import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { tail } from '../adapters/exec.js';
import { HostSession, type SshSettings } from '../adapters/ssh.js';
import type { ClusterConfig, HostConfig } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';
import type { InstanceConfig } from '../core/manifest/types.js';
import type { Service } from '../core/render/cluster.js';
import { fpmPoolDir, fpmSocket, instanceId, instanceRoot, instanceStorage, logDir, unixUser } from '../core/render/names.js';
import { planRemoval, type HostRemoval } from '../core/render/removal.js';
import { mainVclPath } from '../core/render/varnish.js';
import { formatProblem } from '../core/source.js';
import { writeRendered } from '../host-config/write.js';
import { agent, agentArgv } from './agent.js';
import { describe, onEach } from './deploy-cluster.js';
import { checkFpmReload } from './host-requirements.js';
import { checkArgv, reloadArgv, varnishApply, varnishBan } from './services.js';
import { removeSessionUsers } from './session-store.js';
import type { DeployState } from './types.js';

/** How long the edge may take to stop serving a removed domain: reloads are graceful. */
const VERIFY_SECONDS = 10;

export interface ClusterUndeployInput {
  cluster: ClusterConfig;
  /** The instances that leave the cluster: one app's, in any of its environments. */
  instances: InstanceConfig[];
  /** Who holds the cluster's lock. Default: this call only. */
  owner?: string;
  ssh: SshSettings;
  state: DeployState;
  log: (line: string) => void;
}

export interface ClusterUndeployOutcome {
  cluster: string;
  /** One line per instance: what was found and removed, per group of hosts. */
  lines: string[];
  seconds: number;
}

/**
 * Removes instances from a cluster, holding its deploy lock: the cluster
 * rendered without them, the changed files staged and every touched
 * service checked on its host by the real tools (with the removed files
 * absent), then files written and removed (each backed up) and the
 * services reloaded on every host, and all of it put back if one host
 * fails. Only then, on each web host, the instance's processes, tree,
 * logs, unix user and group go, and the cluster forgets the instance.
 * Every step can run again: a second run after a failure converges.
 */
export async function undeployCluster(input: ClusterUndeployInput): Promise<ClusterUndeployOutcome> {
  const owner = input.owner ?? `${hostname()}:${process.pid}:${randomUUID()}`;
  return input.state.withClusterLock(input.cluster.name, owner, () => input.log(`${input.cluster.name}: waiting for a deploy on this cluster`), () => undeployLocked(input));
}

interface Context {
  cluster: ClusterConfig;
  instances: InstanceConfig[];
  plan: Map<string, HostRemoval>;
  sessions: Map<string, HostSession>;
  staging: string;
  local: string;
}

async function undeployLocked(input: ClusterUndeployInput): Promise<ClusterUndeployOutcome> {
  const { cluster, instances, state, log } = input;
  const started = Date.now();
  const planned = planRemoval(cluster, await state.clusterInstances(cluster.name), instances);
  if ('problems' in planned) throw new MagratheaError(`${cluster.name}: ${planned.problems.map(formatProblem).join('; ')}`, 'render-failed');
  const ctx: Context = {
    cluster,
    instances,
    plan: new Map(planned.hosts.map((h) => [h.host, h])),
    sessions: new Map(cluster.hosts.map((h) => [h.name, new HostSession({ name: h.name, address: h.address, user: h.ssh.user, port: h.ssh.port }, input.ssh)])),
    // No dot in it: a deploy's staging area is <app>.<env>.<release>.
    staging: `${cluster.paths.apps}/.magrathea/staging/destroy-${instances[0]!.app}`,
    local: await mkdtemp(join(tmpdir(), 'magrathea-destroy-')),
  };
  const touched = cluster.hosts.filter((h) => ctx.plan.has(h.name));
  const activated = new Set<string>();
  const ids = instances.map(instanceId).join(', ');
  try {
    try {
      await onEach(cluster.hosts, 'connect', (h) => ctx.sessions.get(h.name)!.open()).catch((e: unknown) => {
        throw new MagratheaError(`unreachable: ${describe(e)}`, 'host-unreachable', 1, true, { cause: e });
      });
      log(`${cluster.name}: removing ${ids} from ${cluster.hosts.length} hosts`);
      await onEach(touched, 'prepare', (h) => stageHost(ctx, h));
      await onEach(touched, 'check', (h) => checkHost(ctx, h));
    } catch (e) {
      if (!(e instanceof MagratheaError && e.code === 'host-unreachable')) await onEach(touched, 'cleanup', (h) => cleanupHost(ctx, h)).catch(() => undefined);
      throw new MagratheaError(`${cluster.name}: ${describe(e)}; nothing was changed on its hosts`, 'destroy-failed', 1, true, { cause: e });
    }
    const found = new Map<string, string[]>();
    try {
      const removed = await onEach(touched, 'activate', (h) => {
        activated.add(h.name);
        return activateHost(ctx, h);
      });
      touched.forEach((h, n) => found.set(h.name, removed[n]!));
      await onEach(cluster.hosts.filter((h) => h.roles.includes('balancer')), 'verify', (h) => verifyHost(ctx, h));
    } catch (e) {
      log(`${cluster.name}: ${describe(e)}; putting every host back`);
      const back = await onEach(touched.filter((h) => activated.has(h.name)), 'rollback', (h) => restoreHost(ctx, h)).then(
        () => undefined,
        (r: unknown) => describe(r),
      );
      throw new MagratheaError(`${cluster.name}: ${describe(e)}; ${back ? `putting the hosts back failed too: ${back}` : 'every host was put back as it was'}`, 'destroy-failed', 1, true, { cause: e });
    }
    await onEach(touched, 'cleanup', (h) => cleanupHost(ctx, h)).catch((e: unknown) => log(`${cluster.name}: ${describe(e)} (left a staging directory)`));
    const web = cluster.hosts.filter((h) => h.roles.includes('web'));
    try {
      const purged = await onEach(web, 'purge', (h) => purgeHost(ctx, h));
      web.forEach((h, n) => found.set(h.name, [...(found.get(h.name) ?? []), ...purged[n]!]));
      // Its sessions and ACL user on the store: an app made later under the same name must not find them.
      const store = cluster.sessions;
      if (store) {
        const [words] = await onEach(cluster.hosts.filter((h) => h.name === store.host), 'purge', (h) => removeSessionUsers(ctx.sessions.get(h.name)!, store, instances));
        found.set(store.host, [...(found.get(store.host) ?? []), ...words!]);
      }
    } catch (e) {
      throw new MagratheaError(`${cluster.name}: ${describe(e)}; no host serves ${ids} any more, but some of its files or its user are left`, 'destroy-failed', 1, true, { cause: e });
    }
    for (const i of instances) await state.forgetInstance(i.app, i.env, cluster.name);
    return { cluster: cluster.name, lines: instances.map((i) => summary(cluster, i, found)), seconds: (Date.now() - started) / 1000 };
  } finally {
    await Promise.all([...ctx.sessions.values()].map((s) => s.close()));
    await rm(ctx.local, { recursive: true, force: true });
  }
}

/** A fresh staging area on the host (a failed run's backup would restore the wrong files), with the files to write. */
async function stageHost(ctx: Context, host: HostConfig): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  await session.exec(['rm', '-rf', ctx.staging, `${ctx.staging}.backup`]);
  const files = ctx.plan.get(host.name)!.write;
  if (files.length === 0) return;
  await mkdir(join(ctx.local, ctx.cluster.name, host.name), { recursive: true });
  await writeRendered(ctx.local, ctx.cluster.name, files);
  await session.rsyncTo(join(ctx.local, ctx.cluster.name, host.name), ctx.staging, { mkdir: true });
}

/** Each touched service checked in a private mount namespace that shows the staged files in place and the removed ones gone (FPM: also that its reload keeps requests in flight). */
async function checkHost(ctx: Context, host: HostConfig): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  const plan = ctx.plan.get(host.name)!;
  for (const { service, php } of plan.services) {
    const removed = plan.remove.filter((f) => f.service === service && (service !== 'fpm' || f.path.startsWith(`${fpmPoolDir(ctx.cluster.paths, php)}/`))).map((f) => f.path);
    const dirs = [...new Set(plan.write.filter((f) => f.service === service).map((f) => f.path.slice(0, f.path.lastIndexOf('/'))))];
    for (const argv of checkArgv(ctx.cluster, service, php, plan.write)) {
      let wrapped = argv;
      if (dirs.length > 0) wrapped = agentArgv('view', [ctx.staging, dirs.join(','), '--', ...wrapped]);
      if (removed.length > 0) wrapped = agentArgv('without', [removed.join(','), '--', ...wrapped]);
      const result = await session.exec(['unshare', '--mount', '--propagation', 'private', '--', ...wrapped], { reject: false });
      if (result.exitCode !== 0) throw new MagratheaError(`${service} check failed: ${tail(result.stderr || result.stdout)}`, 'check-failed');
    }
    // The FPM reload must let the other apps' requests in flight finish, as at a deploy.
    if (service === 'fpm') await checkFpmReload(session, ctx.cluster, php);
  }
}

/** Files written and removed (each backed up), then the services reloaded. Returns what was removed, as words. */
async function activateHost(ctx: Context, host: HostConfig): Promise<string[]> {
  const session = ctx.sessions.get(host.name)!;
  const plan = ctx.plan.get(host.name)!;
  const backup = `${ctx.staging}.backup`;
  if (plan.write.length > 0) await agent(session, 'install', [ctx.staging + '/', backup]);
  const result = plan.remove.length > 0 ? await agent(session, 'remove', [backup, ...plan.remove.map((f) => f.path)]) : undefined;
  const gone = new Set((result?.stdout ?? '').split('\n').filter((l) => l.startsWith('removed ')).map((l) => l.slice('removed '.length)));
  await reloadHost(ctx, host, plan);
  return [
    ...plan.remove.filter((f) => gone.has(f.path)).map((f) => `${f.instance}\u0000${WHAT[f.service]}`),
    ...plan.write.map((f) => `*\u0000${f.path.slice(f.path.lastIndexOf('/') + 1)}`),
  ];
}

const WHAT: Record<Service, string> = { apache: 'vhost', fpm: 'pool', varnish: 'vcl', haproxy: 'haproxy backend' };

/** Varnish: the instances' labels and VCLs discarded once main.vcl no longer routes to them (after a restore: loaded again). */
async function reloadHost(ctx: Context, host: HostConfig, plan: HostRemoval): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  for (const { service, php } of plan.services) {
    if (service === 'varnish') await varnishApply(session, ctx.cluster, ctx.instances, plan.write.some((f) => f.path === mainVclPath(ctx.cluster.paths.varnish)));
    else await session.exec(reloadArgv(ctx.cluster, service, php));
  }
  // What the cache kept of the instances would outlive them for a TTL should their domains come back.
  if (host.roles.includes('cache')) await varnishBan(session, ctx.cluster, ctx.instances.flatMap((i) => i.domains));
}

/** The edge answers its own 404 for every domain of the instances. */
async function verifyHost(ctx: Context, host: HostConfig): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  for (const domain of ctx.instances.flatMap((i) => i.domains)) {
    await agent(session, 'status', ['404', `http://${host.address}:${ctx.cluster.ports.balancer}/`, domain, String(VERIFY_SECONDS)]);
  }
}

async function restoreHost(ctx: Context, host: HostConfig): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  await agent(session, 'restore', [`${ctx.staging}.backup`]);
  await reloadHost(ctx, host, ctx.plan.get(host.name)!);
  await cleanupHost(ctx, host);
}

async function cleanupHost(ctx: Context, host: HostConfig): Promise<void> {
  await ctx.sessions.get(host.name)!.exec(['rm', '-rf', ctx.staging, `${ctx.staging}.backup`]);
}

/** Each instance's processes, tree, logs, socket, user and group. Returns what was there, as words. */
async function purgeHost(ctx: Context, host: HostConfig): Promise<string[]> {
  const session = ctx.sessions.get(host.name)!;
  const words: string[] = [];
  for (const i of ctx.instances) {
    const user = unixUser(i);
    // Shared files on the cluster's storage go once, from its first web host: a later app of the same name
    // gets the same uid, and must not inherit them.
    const first = ctx.cluster.storage !== undefined && ctx.cluster.hosts.find((h) => h.roles.includes('web'))?.name === host.name;
    const stored = first ? ['--storage', instanceStorage(ctx.cluster.storage!, i)] : [];
    const result = await agent(session, 'purge', [user, instanceRoot(ctx.cluster.paths, i), logDir(ctx.cluster.paths, i), ...stored, fpmSocket(ctx.cluster.paths, i)]);
    for (const word of result.stdout.split('\n').filter(Boolean)) words.push(`${instanceId(i)}\u0000${word === 'user' ? `user ${user}` : word}`);
  }
  return words;
}

/** `cluster-a shop.production: a-web-1, a-web-2: vhost, pool, files, logs, user m_shop_production; a-edge: vcl, haproxy backend, main.vcl, boot.cli, hosts.map` */
function summary(cluster: ClusterConfig, instance: InstanceConfig, found: Map<string, string[]>): string {
  const id = instanceId(instance);
  const groups = new Map<string, string[]>();
  for (const host of cluster.hosts) {
    const all = found.get(host.name) ?? [];
    // A host where only shared files changed had nothing of this instance left.
    if (!all.some((w) => w.startsWith(`${id}\u0000`))) continue;
    const words = all.filter((w) => w.startsWith(`${id}\u0000`) || w.startsWith('*\u0000')).map((w) => w.slice(w.indexOf('\u0000') + 1));
    const text = [...new Set(words)].join(', ');
    groups.set(text, [...(groups.get(text) ?? []), host.name]);
  }
  if (groups.size === 0) return `${cluster.name} ${id}: nothing of it was left on the hosts`;
  return `${cluster.name} ${id}: ${[...groups].map(([text, hosts]) => `${hosts.join(', ')}: ${text}`).join('; ')}`;
}
