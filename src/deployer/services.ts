import type { HostSession } from '../adapters/ssh.js';
import type { ClusterConfig } from '../core/config/types.js';
import { tail } from '../adapters/exec.js';
import { MagratheaError } from '../core/errors.js';
import type { RenderedFile, Service } from '../core/render/cluster.js';
import { fpmPoolDir, type InstanceKey } from '../core/render/names.js';
import { instanceVclPath, instanceVclPrefix, MAIN_VCL_PREFIX, mainVclPath, vclLabel } from '../core/render/varnish.js';

/** Replaces the placeholders of a configured command: {php}, {file}, {dir}, {tmp}. */
export function fillArgv(argv: readonly string[], values: { php: string; file?: string; dir?: string }): string[] {
  const tmp = `/tmp/magrathea-check-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  return argv.map((a) => a.replaceAll('{php}', values.php).replaceAll('{file}', values.file ?? '').replaceAll('{dir}', values.dir ?? '').replaceAll('{tmp}', tmp));
}

/**
 * The configured checks of a service, ready to run on a host. Varnish: each
 * instance VCL in `files` compiled alone (main.vcl names labels, which exist
 * only in the running cache: its vcl.load is its check).
 */
export function checkArgv(cluster: ClusterConfig, service: Service, php: string, files: readonly RenderedFile[] = []): string[][] {
  const c = cluster.commands;
  switch (service) {
    case 'apache':
      return [fillArgv(c.apache.check, { php })];
    case 'fpm':
      return [fillArgv(c.fpm.check, { php, dir: fpmPoolDir(cluster.paths, php) })];
    case 'varnish':
      return files.filter((f) => f.service === 'varnish' && f.instance).map((f) => fillArgv(c.varnish.check, { php, file: f.path, dir: cluster.paths.varnish }));
    case 'haproxy':
      return [fillArgv(c.haproxy.check, { php, dir: cluster.paths.haproxy })];
  }
}

export function reloadArgv(cluster: ClusterConfig, service: 'apache' | 'fpm' | 'haproxy', php: string): string[] {
  return fillArgv(cluster.commands[service].reload, { php });
}

/** One VCL or label as `vcl.list -j` shows it. */
interface LoadedVcl {
  name: string;
  status: string;
  /** `label` for a label. */
  state: string;
  /** How many labels point at this VCL. */
  labels?: number;
}

async function listVcls(session: HostSession, cluster: ClusterConfig): Promise<LoadedVcl[]> {
  const { stdout } = await session.exec([...cluster.commands.varnish.admin, 'vcl.list', '-j']);
  try {
    // [version, argv, time, vcl...]
    return (JSON.parse(stdout) as unknown[]).slice(3) as LoadedVcl[];
  } catch {
    throw new MagratheaError(`${session.target.name}: vcl.list -j did not answer JSON: ${tail(stdout)}`, 'varnish-list');
  }
}

/**
 * The instances whose label the cache lacks (a cache started without
 * boot.cli, or holding a VCL from before labels), and whether a
 * Magrathea main VCL is active: what a deploy must load besides its own.
 */
export async function varnishMissing(session: HostSession, cluster: ClusterConfig, instances: readonly InstanceKey[]): Promise<{ missing: InstanceKey[]; mainActive: boolean }> {
  const vcls = await listVcls(session, cluster);
  const labels = new Set(vcls.filter((v) => v.state === 'label').map((v) => v.name));
  return { missing: instances.filter((i) => !labels.has(vclLabel(i))), mainActive: vcls.some((v) => v.status === 'active' && v.name.startsWith(MAIN_VCL_PREFIX)) };
}

/**
 * Brings the cache in line with its files for `instances` (the ones whose
 * VCL was written or removed): each instance VCL on the host is loaded
 * under a new name and its label moved to it (the instance serves it at
 * once); then main.vcl, when `main`, loaded and made active; then what no
 * longer serves is discarded, in the order Varnish allows: old main VCLs,
 * the labels of instances without a VCL file, then their VCLs and the
 * touched instances' unlabelled ones. Other instances are not touched.
 */
export async function varnishApply(session: HostSession, cluster: ClusterConfig, instances: readonly InstanceKey[], main: boolean): Promise<void> {
  const admin = cluster.commands.varnish.admin;
  const stamp = Date.now();
  const gone: InstanceKey[] = [];
  for (const i of instances) {
    const file = instanceVclPath(cluster.paths.varnish, i);
    if ((await session.exec(['test', '-e', file], { reject: false })).exitCode !== 0) {
      gone.push(i);
      continue;
    }
    await session.exec([...admin, 'vcl.load', `${instanceVclPrefix(i)}${stamp}`, file]);
    await session.exec([...admin, 'vcl.label', vclLabel(i), `${instanceVclPrefix(i)}${stamp}`]);
  }
  if (main) {
    await session.exec([...admin, 'vcl.load', `${MAIN_VCL_PREFIX}${stamp}`, mainVclPath(cluster.paths.varnish)]);
    await session.exec([...admin, 'vcl.use', `${MAIN_VCL_PREFIX}${stamp}`]);
  }
  const discard = (name: string) => session.exec([...admin, 'vcl.discard', name], { reject: false });
  const idle = (v: LoadedVcl) => v.status === 'available' && v.state !== 'label' && !v.labels;
  // Main VCLs before the labels they name; a Magrathea VCL from before labels (magrathea_<release>_<time>) too.
  const own = (name: string) => name.startsWith(MAIN_VCL_PREFIX) || (name.startsWith('magrathea_') && !name.startsWith('magrathea_app_') && !name.startsWith('magrathea_label_'));
  for (const v of await listVcls(session, cluster)) if (idle(v) && own(v.name)) await discard(v.name);
  for (const i of gone) await discard(vclLabel(i));
  const prefixes = instances.map(instanceVclPrefix);
  for (const v of await listVcls(session, cluster)) if (idle(v) && prefixes.some((p) => v.name.startsWith(p))) await discard(v.name);
}

/** Bans an instance's cached objects, so the new release is seen at once rather than after the TTL. */
export async function varnishBan(session: HostSession, cluster: ClusterConfig, domains: string[]): Promise<void> {
  for (const domain of domains) await session.exec([...cluster.commands.varnish.admin, 'ban', 'req.http.host', '==', domain]);
}
