import type { ClusterConfig } from '../../src/core/config/types.js';
import { resolveInstance } from '../../src/core/manifest/resolve.js';
import type { InstanceConfig } from '../../src/core/manifest/types.js';
import { validateManifest } from '../../src/core/manifest/validate.js';
import { renderCluster, type RenderedFile } from '../../src/core/render/cluster.js';
import { fpmSocket, instanceRoot, logDir, probeFile, unixUser } from '../../src/core/render/names.js';
import { instanceVclPath, instanceVclPrefix, MAIN_VCL_PREFIX, mainVclPath, vclLabel } from '../../src/core/render/varnish.js';
import { formatProblem } from '../../src/core/source.js';
import type { LabStatus } from '../../src/lab/status.js';
import { curl } from './curl.js';
import { putFile, sshRun } from './lab.js';

/**
 * What a deploy does on a cluster, done by hand with the product's
 * renderers and the cluster's configured check/reload commands, over the
 * real ssh: enough to prove the lab serves what Magrathea renders, before
 * the deployer exists.
 */
export function resolveTestInstance(manifestText: string, app: string, env: string, cluster: string): InstanceConfig {
  const parsed = validateManifest(manifestText, `${app}/magrathea.yml`);
  if ('problems' in parsed) throw new Error(parsed.problems.map(formatProblem).join('\n'));
  const resolved = resolveInstance(parsed.manifest, { app, env, cluster });
  if ('problems' in resolved) throw new Error(resolved.problems.map(formatProblem).join('\n'));
  return resolved.instance;
}

/** Puts `files` (relative path → content) as release `release` of the instance on every web host, and makes it current. */
export async function placeRelease(lab: LabStatus, cluster: ClusterConfig, instance: InstanceConfig, release: string, files: Record<string, string>): Promise<void> {
  const root = instanceRoot(cluster.paths, instance);
  const user = unixUser(instance);
  await Promise.all(
    webHosts(cluster).map(async (host) => {
      await sshRun(lab, host, ['sh', '-c', 'id -u "$1" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$1"', 'sh', user]);
      for (const [path, content] of Object.entries(files)) await putFile(lab, host, `${root}/releases/${release}/${path}`, content);
      await sshRun(lab, host, ['mkdir', '-p', logDir(cluster.paths, instance), `${root}/shared`]);
      await sshRun(lab, host, ['ln', '-sfn', `releases/${release}`, `${root}/current`]);
      // What Varnish's probe asks for: the host agent's prepare makes it on a real deploy.
      await putFile(lab, host, probeFile(cluster.paths), 'ok\n');
    }),
  );
}

/**
 * Renders the cluster for `instances`, writes every file to its host,
 * removes `stale` paths, checks each service's configuration with the
 * configured check command and reloads it with the configured reload.
 */
export async function applyCluster(lab: LabStatus, cluster: ClusterConfig, instances: InstanceConfig[], stale: string[] = []): Promise<void> {
  const rendered = renderCluster(cluster, instances);
  if ('problems' in rendered) throw new Error(rendered.problems.map(formatProblem).join('\n'));
  const php = [...new Set(instances.map((i) => i.php))];
  await Promise.all(
    cluster.hosts.map(async (host) => {
      const files = rendered.files.filter((f) => f.host === host.name);
      for (const file of files) await putFile(lab, host.name, file.path, file.content);
      if (stale.length > 0) await sshRun(lab, host.name, ['rm', '-f', ...stale]);
      const c = cluster.commands;
      if (host.roles.includes('web')) {
        await sshRun(lab, host.name, fill(c.apache.check, {}));
        await sshRun(lab, host.name, fill(c.apache.reload, {}));
        for (const v of php.length > 0 ? php : ['8.2']) {
          await sshRun(lab, host.name, fill(c.fpm.check, { php: v }));
          await sshRun(lab, host.name, fill(c.fpm.reload, { php: v }));
        }
        // FPM opens new pools' sockets after its reload returns.
        for (const i of instances) await sshRun(lab, host.name, ['sh', '-c', WAIT_FOR_SOCKET, 'sh', fpmSocket(cluster.paths, i)]);
      }
      if (host.roles.includes('cache')) {
        // Each instance's VCL checked, loaded and labelled on its own, then main.vcl (which names the labels) made active.
        const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
        for (const i of instances) {
          const file = instanceVclPath(cluster.paths.varnish, i);
          await sshRun(lab, host.name, fill(c.varnish.check, { file, tmp: `/tmp/magrathea-vcl-check-${stamp}` }));
          await sshRun(lab, host.name, [...c.varnish.admin, 'vcl.load', `${instanceVclPrefix(i)}${stamp}`, file]);
          await sshRun(lab, host.name, [...c.varnish.admin, 'vcl.label', vclLabel(i), `${instanceVclPrefix(i)}${stamp}`]);
        }
        await sshRun(lab, host.name, [...c.varnish.admin, 'vcl.load', `${MAIN_VCL_PREFIX}${stamp}`, mainVclPath(cluster.paths.varnish)]);
        await sshRun(lab, host.name, [...c.varnish.admin, 'vcl.use', `${MAIN_VCL_PREFIX}${stamp}`]);
      }
      if (host.roles.includes('balancer')) {
        await sshRun(lab, host.name, fill(c.haproxy.check, { dir: cluster.paths.haproxy }));
        await sshRun(lab, host.name, fill(c.haproxy.reload, {}));
      }
    }),
  );
}

/**
 * Polls the edge until `domain` answers `status`: HAProxy's master-worker
 * reload (USR2) returns before the new worker serves, as a deploy's verify
 * step has to allow for.
 */
export async function waitForEdge(url: string, domain: string, status: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await curl(url, domain);
    if (response.status === status) return;
    if (Date.now() > deadline) throw new Error(`${url} (Host: ${domain}) still answers ${response.status}, not ${status}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The files an instance owns on the cluster's hosts, to remove when it goes. */
export function instanceFiles(cluster: ClusterConfig, instance: InstanceConfig): string[] {
  const rendered = renderCluster(cluster, [instance]);
  if ('problems' in rendered) throw new Error(rendered.problems.map(formatProblem).join('\n'));
  const shared = new Set(['main.vcl', 'boot.cli', '00-magrathea.cfg', 'hosts.map']);
  return [...new Set(rendered.files.map((f: RenderedFile) => f.path).filter((p) => !shared.has(p.split('/').at(-1)!)))];
}

export function webHosts(cluster: ClusterConfig): string[] {
  return cluster.hosts.filter((h) => h.roles.includes('web')).map((h) => h.name);
}

/** Replaces the placeholders of a configured command. */
export function fill(argv: readonly string[], values: Partial<Record<'php' | 'file' | 'dir' | 'tmp', string>>): string[] {
  return argv.map((a) => a.replace(/\{(php|file|dir|tmp)\}/g, (whole, key: keyof typeof values) => values[key] ?? whole));
}

const WAIT_FOR_SOCKET = 'for i in $(seq 100); do test -S "$1" && exit 0; sleep 0.1; done; echo "no socket $1 after 10 s" >&2; exit 1';
