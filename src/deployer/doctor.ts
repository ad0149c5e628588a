import { createHash } from 'node:crypto';
import { HostSession, type SshSettings } from '../adapters/ssh.js';
import type { ClusterConfig, HostConfig } from '../core/config/types.js';
import type { InstanceConfig } from '../core/manifest/types.js';
import { fpmPoolDir, instanceId, instanceRoot, PROBE_PATH } from '../core/render/names.js';
import { CACHE_CHECK_HOST } from '../core/render/varnish.js';
import { checkFpmReload } from './host-requirements.js';
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
   * current: the instance's `current` is not the release the gateway recorded;
   * requirement: the host no longer provides what deploys rely on (PHP-FPM's
   * process_control_timeout, free disk space under the apps);
   * service: a daemon of the host does not answer (Apache, Varnish, HAProxy).
   */
  kind: 'changed' | 'missing' | 'unknown' | 'current' | 'requirement' | 'service';
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
        survey.drift.push(...(await checkHost(session, cluster, host, web)));
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

/** Below this share of free space under the apps' directory, a web host is reported: a deploy writes a whole release there. */
const MIN_FREE_PERCENT = 10;

/**
 * What the deploys rely on, asked of the host itself (reading only): on a
 * web host, each PHP version's reload setting and the free space under the
 * apps; each daemon answering on its port (Apache with the probe page,
 * Varnish with its own check answer, HAProxy with any HTTP answer).
 */
async function checkHost(session: HostSession, cluster: ClusterConfig, host: HostConfig, web: readonly InstanceConfig[]): Promise<Drift[]> {
  const drift: Drift[] = [];
  const add = (path: string, kind: 'requirement' | 'service', detail: string) => drift.push({ cluster: cluster.name, host: host.name, path, kind, detail });
  const status = async (port: number, path: string, vhost: string): Promise<string> =>
    (await session.exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', '-H', `Host: ${vhost}`, `http://${host.address}:${port}${path}`], { reject: false })).stdout.trim() || '000';
  // A web host that serves no instance yet has no apps directory, and nothing to serve.
  if (host.roles.includes('web') && web.length > 0) {
    for (const php of [...new Set(web.map((i) => i.php))].sort()) {
      await checkFpmReload(session, cluster, php).catch((e: Error) => add(`PHP-FPM ${php}`, 'requirement', e.message));
    }
    const df = await session.exec(['df', '-P', '-k', cluster.paths.apps], { reject: false });
    const [, size, used, free] = (df.stdout.trim().split('\n')[1] ?? '').split(/\s+/).map(Number);
    if (df.exitCode !== 0 || !size) add(cluster.paths.apps, 'requirement', `free space unknown: df exited ${df.exitCode}: ${df.stderr.trim()}`);
    else if ((free! / size) * 100 < MIN_FREE_PERCENT) add(cluster.paths.apps, 'requirement', `${Math.round((used! / size) * 100)}% used, ${Math.round(free! / 1024)} MiB free: a deploy writes a whole release here`);
    const vhost = web[0]!.domains[0];
    if (vhost) {
      const code = await status(cluster.ports.web, PROBE_PATH, vhost);
      if (code !== '200') add(`apache :${cluster.ports.web}`, 'service', `answered ${code} for ${PROBE_PATH} (Host: ${vhost}), expected 200`);
    }
  }
  if (host.roles.includes('cache')) {
    const code = await status(cluster.ports.cache, '/', CACHE_CHECK_HOST);
    if (code !== '200') add(`varnish :${cluster.ports.cache}`, 'service', `answered ${code} for its own check (Host: ${CACHE_CHECK_HOST}), expected 200`);
  }
  if (host.roles.includes('balancer')) {
    const code = await status(cluster.ports.balancer, '/', CACHE_CHECK_HOST);
    if (code === '000') add(`haproxy :${cluster.ports.balancer}`, 'service', 'no HTTP answer');
  }
  return drift;
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
