import type { ClusterConfig } from '../config/types.js';
import type { InstanceConfig } from '../manifest/types.js';
import type { Problem } from '../source.js';
import { renderCluster, type RenderedFile, type Service } from './cluster.js';
import { instanceId } from './names.js';

/** What leaves one host when instances leave its cluster. */
export interface HostRemoval {
  host: string;
  /** Files the remaining instances render differently (main.vcl, hosts.map): written. */
  write: RenderedFile[];
  /** Files of the instances that leave, and whose they are (`app.env`). */
  remove: { path: string; service: Service; instance: string }[];
  /** Services whose files change, each checked and reloaded once; `php` picks the FPM. */
  services: { service: Service; php: string }[];
}

/**
 * The cluster rendered without `gone`, compared with the cluster rendered
 * with them: per host, the files to write, the files to delete, and the
 * services that must be checked and reloaded. Hosts where nothing changes
 * are left out. Pure: the same inputs give the same plan.
 */
export function planRemoval(cluster: ClusterConfig, live: readonly InstanceConfig[], gone: readonly InstanceConfig[]): { hosts: HostRemoval[] } | { problems: Problem[] } {
  if (gone.length === 0) return { hosts: [] };
  const leaving = new Set(gone.map(instanceId));
  const staying = live.filter((i) => !leaving.has(instanceId(i)));
  const before = renderCluster(cluster, [...staying, ...gone]);
  if ('problems' in before) return before;
  const after = renderCluster(cluster, staying);
  if ('problems' in after) return after;
  const empty = renderCluster(cluster, []);
  if ('problems' in empty) return empty;

  const key = (f: { host: string; path: string }) => `${f.host}\u0000${f.path}`;
  const shared = new Set(empty.files.map(key));
  // Each file only one instance renders, with that instance: a path never names two instances.
  const owner = new Map<string, InstanceConfig>();
  for (const i of gone) {
    const own = renderCluster(cluster, [i]);
    if ('problems' in own) return own;
    for (const f of own.files) if (!shared.has(key(f))) owner.set(key(f), i);
  }
  const next = new Map(after.files.map((f) => [key(f), f]));
  const hosts: HostRemoval[] = [];
  for (const host of cluster.hosts) {
    const old = before.files.filter((f) => f.host === host.name);
    const write = after.files.filter((f) => f.host === host.name && old.find((o) => o.path === f.path)?.content !== f.content);
    const removed = old.filter((f) => !next.has(key(f)));
    const remove = removed.map((f) => ({ path: f.path, service: f.service, instance: instanceId(owner.get(key(f)) ?? gone[0]!) }));
    if (write.length === 0 && remove.length === 0) continue;
    const services = new Map<string, { service: Service; php: string }>();
    for (const f of write) services.set(f.service, { service: f.service, php: gone[0]!.php });
    for (const f of removed) {
      const php = owner.get(key(f))?.php ?? gone[0]!.php;
      // Each PHP version has its own FPM; the other services are one per host.
      services.set(f.service === 'fpm' ? `fpm ${php}` : f.service, { service: f.service, php });
    }
    hosts.push({ host: host.name, write, remove, services: [...services.values()] });
  }
  return { hosts };
}
