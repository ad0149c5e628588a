import type { ClusterConfig } from '../config/types.js';
import type { InstanceConfig } from '../manifest/types.js';
import type { Problem } from '../source.js';
import { show } from '../values.js';
import { renderVhost } from './apache.js';
import { renderPool } from './fpm.js';
import { renderHaproxyBackend, renderHaproxyFrontend, renderHostsMap } from './haproxy.js';
import { fpmPoolDir, instanceId, type InstanceKey } from './names.js';
import { instanceVclPath, mainVclPath, renderAppVcl, renderMainVcl, renderVarnishBoot } from './varnish.js';

export type Service = 'apache' | 'fpm' | 'varnish' | 'haproxy';

/** One file as it must be on one host. */
export interface RenderedFile {
  host: string;
  /** Absolute path on the host. */
  path: string;
  service: Service;
  content: string;
  /** Pool files hold the app's secrets: root only. The rest must be readable by the daemons (varnishd compiles as its own user). */
  mode: number;
  /** The instance whose own file this is; none for the files of the whole cluster (main.vcl, boot.cli, hosts.map, the frontend). */
  instance?: InstanceKey;
}

/** What the renderer needs that is kept on the gateway, not in the configuration. */
export interface RenderSecrets {
  /** `<app>.<env>` → the instance's password on its cluster's session store. Missing ones are written as a placeholder. */
  sessionPasswords?: Readonly<Record<string, string>>;
}

/**
 * Every Magrathea-owned config file of every host of a cluster, from every
 * instance deployed on it (zero instances too: an empty cluster still gets
 * a main.vcl and a frontend that answer 404). Pure, deterministic: the same
 * inputs give the same bytes, so an unchanged file can be left alone.
 */
export function renderCluster(cluster: ClusterConfig, instances: readonly InstanceConfig[], secrets: RenderSecrets = {}): { files: RenderedFile[] } | { problems: Problem[] } {
  const problems = checkInstances(cluster, instances);
  if (problems.length > 0) return { problems };
  const sorted = [...instances].sort((a, b) => instanceId(a).localeCompare(instanceId(b)));
  const files: RenderedFile[] = [];
  for (const host of cluster.hosts) {
    const add = (service: Service, path: string, content: string, instance?: InstanceConfig): void => {
      files.push({ host: host.name, path, service, content, mode: service === 'fpm' ? 0o600 : 0o644, ...(instance ? { instance: { app: instance.app, env: instance.env } } : {}) });
    };
    if (host.roles.includes('web')) {
      for (const i of sorted) {
        add('apache', `${cluster.paths.apache}/${instanceId(i)}.conf`, renderVhost(cluster, i), i);
        add('fpm', `${fpmPoolDir(cluster.paths, i.php)}/magrathea-${instanceId(i)}.conf`, renderPool(cluster, host, i, secrets.sessionPasswords?.[instanceId(i)]), i);
      }
    }
    if (host.roles.includes('cache')) {
      add('varnish', mainVclPath(cluster.paths.varnish), renderMainVcl(sorted));
      add('varnish', `${cluster.paths.varnish}/boot.cli`, renderVarnishBoot(cluster.paths.varnish, sorted));
      for (const i of sorted) add('varnish', instanceVclPath(cluster.paths.varnish, i), renderAppVcl(cluster, i), i);
    }
    if (host.roles.includes('balancer')) {
      add('haproxy', `${cluster.paths.haproxy}/00-magrathea.cfg`, renderHaproxyFrontend(cluster, host));
      for (const i of sorted) add('haproxy', `${cluster.paths.haproxy}/${instanceId(i)}.cfg`, renderHaproxyBackend(cluster, i), i);
      add('haproxy', `${cluster.paths.haproxy}/hosts.map`, renderHostsMap(sorted));
    }
  }
  return { files };
}

/** What no single manifest can see: instances of one cluster fighting over a name or a domain. */
function checkInstances(cluster: ClusterConfig, instances: readonly InstanceConfig[]): Problem[] {
  const problems: Problem[] = [];
  const ids = new Set<string>();
  const owners = new Map<string, InstanceConfig>();
  for (const i of instances) {
    const where = i.origins.domains?.position ?? { file: `${i.app}/magrathea.yml`, line: 1, col: 1 };
    if (i.cluster !== cluster.name) {
      problems.push({ ...where, path: '', message: `instance ${i.app}@${i.cluster} rendered for cluster ${show(cluster.name)}` });
    }
    if (ids.has(instanceId(i))) problems.push({ ...where, path: '', message: `${i.app} (${i.env}) is given twice for cluster ${cluster.name}` });
    ids.add(instanceId(i));
    for (const [index, domain] of i.domains.entries()) {
      const owner = owners.get(domain);
      if (owner) {
        problems.push({ ...(i.origins.domains?.items?.[index] ?? where), path: `domains.${index}`, message: `domain ${show(domain)} is already served on cluster ${cluster.name} by ${owner.app} (${owner.env}); a domain belongs to one app and environment per cluster` });
      }
      owners.set(domain, i);
    }
  }
  return problems;
}
