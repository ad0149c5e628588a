import type { HostSession } from '../adapters/ssh.js';
import type { ClusterConfig } from '../core/config/types.js';
import { tail } from '../adapters/exec.js';
import { agent } from './agent.js';
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

/** One varnishadm command of a batch: `try` may fail (a discard of what may be gone), `show` prints its answer. */
type VarnishStep = string[] | ['try' | 'show', ...string[]];

/** Runs varnishadm commands in turn on the cache in one call (the host agent's `varnish`); the first failure stops them. */
async function varnishSteps(session: HostSession, cluster: ClusterConfig, steps: readonly VarnishStep[]): Promise<string> {
  if (steps.length === 0) return '';
  const { stdout } = await agent(session, 'varnish', [cluster.commands.varnish.admin.join(' '), ...steps.flatMap((s) => ['--', ...s])]);
  return stdout;
}

function parseVcls(session: HostSession, stdout: string): LoadedVcl[] {
  try {
    // [version, argv, time, vcl...]
    return (JSON.parse(stdout) as unknown[]).slice(3) as LoadedVcl[];
  } catch {
    throw new MagratheaError(`${session.target.name}: vcl.list -j did not answer JSON: ${tail(stdout)}`, 'varnish-list');
  }
}

async function listVcls(session: HostSession, cluster: ClusterConfig): Promise<LoadedVcl[]> {
  return parseVcls(session, await varnishSteps(session, cluster, [['show', 'vcl.list', '-j']]));
}

/**
 * The instances whose label the cache lacks (a cache started without
 * boot.cli, or holding a VCL from before labels), whether a Magrathea main
 * VCL is active, and the labels it has: what a deploy must load besides its own.
 */
export async function varnishMissing(session: HostSession, cluster: ClusterConfig, instances: readonly InstanceKey[]): Promise<{ missing: InstanceKey[]; mainActive: boolean; labels: Set<string> }> {
  const vcls = await listVcls(session, cluster);
  const labels = new Set(vcls.filter((v) => v.state === 'label').map((v) => v.name));
  return { missing: instances.filter((i) => !labels.has(vclLabel(i))), mainActive: vcls.some((v) => v.status === 'active' && v.name.startsWith(MAIN_VCL_PREFIX)), labels };
}

/** VCLs the running cache compiled and loaded, cold, ahead of a switch: `varnishSwitch` makes them serve, `varnishUnload` drops them. */
export interface PreloadedVcls {
  /** [label, loaded VCL] for each instance VCL. */
  labels: [string, string][];
  /** The main VCL: loaded when its labels all existed, else compiled at the switch, once its new labels are made. */
  main?: { name: string; loaded: boolean };
  /** The instances whose VCLs were loaded: their older VCLs are discarded after the switch. */
  instances: InstanceKey[];
}

/**
 * Compiles and loads, in the running cache, each instance VCL of `vcls`
 * (read from where it is staged), and `main` (main.vcl's staged path) when
 * every label it names exists already: the strongest check there is, done
 * before the switch, which is left with moving labels. Loaded cold, so
 * they probe nothing: a VCL whose probes ran against an app not yet
 * switched to would start its backends sick. `labels`: the cache's labels now.
 */
export async function varnishPreload(session: HostSession, cluster: ClusterConfig, vcls: readonly { instance: InstanceKey; path: string }[], main: string | undefined, labels: ReadonlySet<string>): Promise<PreloadedVcls> {
  const stamp = Date.now();
  const loaded: PreloadedVcls = { labels: vcls.map((v) => [vclLabel(v.instance), `${instanceVclPrefix(v.instance)}${stamp}`]), instances: vcls.map((v) => v.instance) };
  if (main) loaded.main = { name: `${MAIN_VCL_PREFIX}${stamp}`, loaded: loaded.labels.every(([label]) => labels.has(label)) };
  const steps: VarnishStep[] = vcls.map((v, i) => ['vcl.load', loaded.labels[i]![1], v.path, 'cold']);
  if (loaded.main?.loaded) steps.push(['vcl.load', loaded.main.name, main!, 'cold']);
  try {
    await varnishSteps(session, cluster, steps);
  } catch (e) {
    // What this preload loaded before its failure goes: nothing of it serves.
    await varnishUnload(session, cluster, loaded).catch(() => undefined);
    throw e;
  }
  return loaded;
}

/** Drops a preload whose deploy stopped before its switch: its VCLs. */
export function varnishUnload(session: HostSession, cluster: ClusterConfig, loaded: PreloadedVcls): Promise<string> {
  return varnishDiscard(session, cluster, [...(loaded.main?.loaded ? [loaded.main.name] : []), ...loaded.labels.map(([, vcl]) => vcl)]);
}

/**
 * The switch of a preloaded cache, in one call: each new VCL warmed (its
 * probes start from their initial state) and its label moved to it, the
 * new main VCL (loaded now if it names new labels; main.vcl is in place)
 * made active, the domains' cached objects banned. Returns the VCLs that
 * no longer serve, for `varnishDiscard`.
 */
export async function varnishSwitch(session: HostSession, cluster: ClusterConfig, loaded: PreloadedVcls, domains: readonly string[]): Promise<string[]> {
  const steps: VarnishStep[] = loaded.labels.flatMap(([label, vcl]) => [['vcl.state', vcl, 'auto'], ['vcl.label', label, vcl]]);
  const main = loaded.main;
  if (main) steps.push(main.loaded ? ['vcl.state', main.name, 'auto'] : ['vcl.load', main.name, mainVclPath(cluster.paths.varnish)], ['vcl.use', main.name]);
  steps.push(...banSteps(domains), ['show', 'vcl.list', '-j']);
  return idleVcls(parseVcls(session, await varnishSteps(session, cluster, steps)), loaded.instances);
}

/** Discards VCLs (`varnishSwitch`'s idle ones), in one call; one already gone is no error. */
export function varnishDiscard(session: HostSession, cluster: ClusterConfig, names: readonly string[]): Promise<string> {
  return varnishSteps(session, cluster, names.map((n) => ['try', 'vcl.discard', n]));
}

/** Magrathea's VCLs that serve nothing: old main VCLs (first: they name labels), then `instances`' unlabelled ones. */
function idleVcls(vcls: readonly LoadedVcl[], instances: readonly InstanceKey[]): string[] {
  const idle = vcls.filter((v) => v.status === 'available' && v.state !== 'label' && !v.labels).map((v) => v.name);
  // Main VCLs; a Magrathea VCL from before labels (magrathea_<release>_<time>) too.
  const own = (name: string) => name.startsWith(MAIN_VCL_PREFIX) || (name.startsWith('magrathea_') && !name.startsWith('magrathea_app_') && !name.startsWith('magrathea_label_'));
  const prefixes = instances.map(instanceVclPrefix);
  return [...idle.filter(own), ...idle.filter((n) => prefixes.some((p) => n.startsWith(p)))];
}

/**
 * Brings the cache in line with its files for `instances` (the ones whose
 * VCL was written or removed): each instance VCL on the host is loaded
 * under a new name and its label moved to it (the instance serves it at
 * once); then main.vcl, when `main`, loaded and made active; then what no
 * longer serves is discarded, in the order Varnish allows: old main VCLs,
 * the labels of instances without a VCL file, then their VCLs and the
 * touched instances' unlabelled ones. Other instances are not touched.
 * Three calls to the host, however many instances.
 */
export async function varnishApply(session: HostSession, cluster: ClusterConfig, instances: readonly InstanceKey[], main: boolean): Promise<void> {
  const stamp = Date.now();
  const files = instances.map((i) => instanceVclPath(cluster.paths.varnish, i));
  const present = new Set((await session.exec(['sh', '-c', 'for f; do [ -e "$f" ] && echo "$f"; done; exit 0', 'present', ...files])).stdout.split('\n'));
  const kept = instances.filter((_, n) => present.has(files[n]!));
  const gone = instances.filter((_, n) => !present.has(files[n]!));
  const steps: VarnishStep[] = kept.flatMap((i) => [
    ['vcl.load', `${instanceVclPrefix(i)}${stamp}`, instanceVclPath(cluster.paths.varnish, i)],
    ['vcl.label', vclLabel(i), `${instanceVclPrefix(i)}${stamp}`],
  ]);
  if (main) steps.push(['vcl.load', `${MAIN_VCL_PREFIX}${stamp}`, mainVclPath(cluster.paths.varnish)], ['vcl.use', `${MAIN_VCL_PREFIX}${stamp}`]);
  const vcls = parseVcls(session, await varnishSteps(session, cluster, [...steps, ['show', 'vcl.list', '-j']]));
  // The gone instances' labels once no main VCL names them, then their VCLs, which those labels held.
  const idle = idleVcls(vcls, kept);
  const mains = idle.filter((n) => !kept.some((i) => n.startsWith(instanceVclPrefix(i))));
  const goneVcls = vcls.filter((v) => v.state !== 'label' && gone.some((i) => v.name.startsWith(instanceVclPrefix(i)))).map((v) => v.name);
  await varnishDiscard(session, cluster, [...mains, ...gone.map(vclLabel), ...goneVcls, ...idle.filter((n) => !mains.includes(n))]);
}

/** The bans of `domains`' cached objects, as varnishadm commands. */
function banSteps(domains: readonly string[]): VarnishStep[] {
  return domains.map((domain) => ['ban', 'req.http.host', '==', domain]);
}

/** Bans an instance's cached objects, so the new release is seen at once rather than after the TTL. One call. */
export async function varnishBan(session: HostSession, cluster: ClusterConfig, domains: string[]): Promise<void> {
  await varnishSteps(session, cluster, banSteps(domains));
}
