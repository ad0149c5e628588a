import { createHash } from 'node:crypto';
import { HostSession, type SshSettings } from '../adapters/ssh.js';
import type { ClusterConfig, HostConfig } from '../core/config/types.js';
import type { InstanceConfig } from '../core/manifest/types.js';
import { fpmPoolDir, instanceId, instanceRoot } from '../core/render/names.js';
import { agent } from './agent.js';
import { describe, renderLive } from './deploy-cluster.js';
import type { DeployState } from './types.js';

/** One way a host differs from what the gateway recorded and would render. */
export interface Drift {
  cluster: string;
  host: string;
  /** The file, or the instance's root for `current`. */
  path: string;
  /**
   * changed: not the bytes the gateway renders (a hand edit, Puppet);
   * missing: not on the host; unknown: a Magrathea file that no live
   * instance has (left by an app destroyed elsewhere, or copied in by hand);
   * current: the instance's `current` is not the release the gateway recorded.
   */
  kind: 'changed' | 'missing' | 'unknown' | 'current';
  detail: string;
  /** `<app>.<env>`, when the file or link is one instance's. */
  instance?: string;
}

export interface ClusterSurvey {
  cluster: string;
  hosts: number;
  /** Files the hosts must hold, all hosts together. */
  files: number;
  instances: number;
  drift: Drift[];
  /** Hosts that could not be surveyed, and why. */
  unreachable: Record<string, string>;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Every host of the cluster against the gateway's record, over SSH, reading
 * only: each Magrathea file against what the live instances render (by
 * checksum), the Magrathea files no live instance has, and each web host's
 * `current` link of each live instance against the release recorded for it.
 */
export async function surveyCluster(cluster: ClusterConfig, state: DeployState, ssh: SshSettings): Promise<ClusterSurvey> {
  const live = await state.clusterInstances(cluster.name);
  const files = await renderLive(cluster, state, live);
  const releases = new Map(await Promise.all(live.map(async (i) => [instanceId(i), await state.hostReleases(i.app, i.env, cluster.name)] as const)));
  const survey: ClusterSurvey = { cluster: cluster.name, hosts: cluster.hosts.length, files: files.length, instances: live.length, drift: [], unreachable: {} };
  await Promise.all(
    cluster.hosts.map(async (host) => {
      const session = new HostSession({ name: host.name, address: host.address, user: host.ssh.user, port: host.ssh.port }, ssh);
      try {
        await session.open();
        const web = host.roles.includes('web') ? live : [];
        const { stdout } = await agent(session, 'survey', [...managedDirs(cluster, host, live), '--', ...web.map((i) => instanceRoot(cluster.paths, i))]);
        survey.drift.push(...compareHost(cluster, host, stdout, files, web, releases));
      } catch (e) {
        survey.unreachable[host.name] = describe(e);
      } finally {
        await session.close();
      }
    }),
  );
  survey.drift.sort((a, b) => a.host.localeCompare(b.host) || a.path.localeCompare(b.path));
  return survey;
}

/** The directories whose files Magrathea writes on this host (PHP-FPM's pool dirs are shared: only its `magrathea-*` files there). */
function managedDirs(cluster: ClusterConfig, host: HostConfig, live: readonly InstanceConfig[]): string[] {
  const dirs: string[] = [];
  if (host.roles.includes('web')) dirs.push(cluster.paths.apache, ...new Set(live.map((i) => fpmPoolDir(cluster.paths, i.php))));
  if (host.roles.includes('cache')) dirs.push(cluster.paths.varnish);
  if (host.roles.includes('balancer')) dirs.push(cluster.paths.haproxy);
  return dirs;
}

function compareHost(cluster: ClusterConfig, host: HostConfig, output: string, files: readonly { host: string; path: string; content: string; instance?: { app: string; env: string } }[], web: readonly InstanceConfig[], releases: ReadonlyMap<string, Record<string, string>>): Drift[] {
  const found = new Map<string, string>();
  const links = new Map<string, string>();
  for (const line of output.split('\n')) {
    const current = /^current (\S+) (\S+)$/.exec(line);
    if (current) links.set(current[1]!, current[2]!);
    const sum = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
    if (sum) found.set(sum[2]!, sum[1]!);
  }
  const drift: Drift[] = [];
  const add = (path: string, kind: Drift['kind'], detail: string, instance?: string) => drift.push({ cluster: cluster.name, host: host.name, path, kind, detail, ...(instance ? { instance } : {}) });
  const expected = files.filter((f) => f.host === host.name);
  for (const f of expected) {
    const got = found.get(f.path);
    const instance = f.instance ? instanceId(f.instance) : undefined;
    if (got === undefined) add(f.path, 'missing', 'not on the host', instance);
    else if (got !== sha256(f.content)) add(f.path, 'changed', 'differs from what the gateway renders for the live releases', instance);
  }
  const mine = new Set(expected.map((f) => f.path));
  const pools = new Set(web.map((i) => fpmPoolDir(cluster.paths, i.php)));
  for (const path of found.keys()) {
    const dir = path.slice(0, path.lastIndexOf('/'));
    if (mine.has(path) || (pools.has(dir) && !path.slice(dir.length + 1).startsWith('magrathea-'))) continue;
    add(path, 'unknown', 'a Magrathea file that no live instance has');
  }
  for (const i of web) {
    const root = instanceRoot(cluster.paths, i);
    const recorded = releases.get(instanceId(i))?.[host.name];
    const link = links.get(root) ?? '-';
    if (recorded && link !== `releases/${recorded}`) add(root, 'current', `current is ${link === '-' ? 'missing' : link}, the gateway recorded releases/${recorded}`, instanceId(i));
  }
  return drift;
}
