import type { HostSession } from '../adapters/ssh.js';
import type { ClusterConfig } from '../core/config/types.js';
import type { Service } from '../core/render/cluster.js';
import { fpmPoolDir } from '../core/render/names.js';

/** Replaces the placeholders of a configured command: {php}, {file}, {dir}, {tmp}. */
export function fillArgv(argv: readonly string[], values: { php: string; file?: string; dir?: string }): string[] {
  const tmp = `/tmp/magrathea-check-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  return argv.map((a) => a.replaceAll('{php}', values.php).replaceAll('{file}', values.file ?? '').replaceAll('{dir}', values.dir ?? '').replaceAll('{tmp}', tmp));
}

/** The configured check of a service, ready to run on a host. */
export function checkArgv(cluster: ClusterConfig, service: Service, php: string): string[][] {
  const c = cluster.commands;
  switch (service) {
    case 'apache':
      return [fillArgv(c.apache.check, { php })];
    case 'fpm':
      return [fillArgv(c.fpm.check, { php, dir: fpmPoolDir(cluster.paths, php) })];
    case 'varnish':
      return [fillArgv(c.varnish.check, { php, file: `${cluster.paths.varnish}/main.vcl`, dir: cluster.paths.varnish })];
    case 'haproxy':
      return [fillArgv(c.haproxy.check, { php, dir: cluster.paths.haproxy })];
  }
}

export function reloadArgv(cluster: ClusterConfig, service: 'apache' | 'fpm' | 'haproxy', php: string): string[] {
  return fillArgv(cluster.commands[service].reload, { php });
}

/**
 * Loads main.vcl under a new name, makes it active, and discards the
 * Magrathea VCLs no longer in use (each keeps its backends and probes
 * alive otherwise).
 */
export async function varnishActivate(session: HostSession, cluster: ClusterConfig, name: string): Promise<void> {
  const admin = cluster.commands.varnish.admin;
  await session.exec([...admin, 'vcl.load', name, `${cluster.paths.varnish}/main.vcl`]);
  await session.exec([...admin, 'vcl.use', name]);
  const list = await session.exec([...admin, 'vcl.list']);
  for (const line of list.stdout.split('\n')) {
    const columns = line.trim().split(/\s+/);
    const vcl = columns.at(-1);
    if (columns[0] === 'available' && vcl?.startsWith('magrathea_') && vcl !== name) {
      await session.exec([...admin, 'vcl.discard', vcl], { reject: false });
    }
  }
}

/** Bans an instance's cached objects, so the new release is seen at once rather than after the TTL. */
export async function varnishBan(session: HostSession, cluster: ClusterConfig, domains: string[]): Promise<void> {
  for (const domain of domains) await session.exec([...cluster.commands.varnish.admin, 'ban', 'req.http.host', '==', domain]);
}
