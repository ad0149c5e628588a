import { PanelError, withPanel, type PanelClient } from '../adapters/ispconfig.js';
import type { ClusterConfig, IspconfigConfig } from '../core/config/types.js';
import { databaseHost } from '../core/database.js';

/**
 * The panel's function groups Magrathea calls (System > Remote Users in
 * the panel grants them whole), each with one harmless call that only the
 * group allows, and what needs it.
 */
export const PANEL_GROUPS: readonly { group: string; method: string; params: (panel: IspconfigConfig) => Record<string, unknown>; for: string; optional?: boolean }[] = [
  { group: 'Client functions', method: 'client_get_by_username', params: (p) => ({ username: p.client }), for: 'finding the client the databases belong to' },
  { group: 'Sites database functions', method: 'sites_database_get', params: () => ({ primary_id: { database_name: '-' } }), for: 'making, changing and deleting databases and their users' },
  { group: 'Sites Domain functions', method: 'sites_web_domain_get', params: () => ({ primary_id: { domain: '-' } }), for: 'refusing a domain the panel already serves' },
  { group: 'Server functions', method: 'server_get', params: () => ({ server_id: 0, section: 'server' }), for: 'finding the db host among the panel\'s servers' },
  { group: 'Quota functions', method: 'databasequota_get_by_user', params: () => ({ client_id: 0 }), for: 'database sizes as the panel measures them (else measured on the db host)', optional: true },
];

export interface PanelCheck {
  cluster: string;
  url: string;
  user: string;
  login: 'ok' | string;
  /** Groups the remote user lacks, with what needs them. */
  missing: { group: string; for: string; optional: boolean }[];
  /** The panel's servers and the cluster's host each is (by IP, else by host name). */
  servers: { id: number; hostname: string; ip: string; host?: string }[];
  /** The panel's server id of the db host: configured or found. */
  dbServer?: number;
  problems: string[];
}

async function denied(api: PanelClient, method: string, params: Record<string, unknown>): Promise<boolean | string> {
  try {
    await api.call(method, params);
    return false;
  } catch (e) {
    if (e instanceof PanelError && e.fault === 'permission_denied') return true;
    if (e instanceof PanelError && e.fault === 'no_client_found') return e.message;
    throw e;
  }
}

/** Logs in to the cluster's panel, finds which needed function groups the remote user lacks, and matches the panel's servers to the cluster's hosts. */
export async function checkPanel(cluster: Pick<ClusterConfig, 'name' | 'hosts' | 'db'> & { ispconfig: IspconfigConfig }): Promise<PanelCheck> {
  const panel = cluster.ispconfig;
  const report: PanelCheck = { cluster: cluster.name, url: panel.url, user: panel.user, login: 'ok', missing: [], servers: [], problems: [] };
  await withPanel(cluster, async (api) => {
    try {
      await api.login();
    } catch (e) {
      report.login = (e as Error).message;
      report.problems.push(report.login);
      return;
    }
    for (const g of PANEL_GROUPS) {
      // A client given by id is not looked up by name: its group is not needed.
      if (g.group === 'Client functions' && /^[0-9]+$/.test(panel.client)) continue;
      const result = await denied(api, g.method, g.params(panel));
      if (result === true) report.missing.push({ group: g.group, for: g.for, optional: g.optional === true });
      else if (typeof result === 'string') report.problems.push(result);
    }
    for (const m of report.missing) {
      report.problems.push(`${cluster.name}: the panel's remote user ${panel.user} lacks the function group "${m.group}", needed for ${m.for}${m.optional ? ' (optional)' : ''}: grant it in the panel (System > Remote Users > ${panel.user})`);
    }
    if (report.missing.some((m) => m.group === 'Server functions')) return;
    const servers = await api.call<Record<string, { hostname?: string; ip_address?: string }> | false>('server_get', { server_id: 0, section: 'server' });
    const db = databaseHost(cluster);
    for (const [id, s] of Object.entries(servers || {})) {
      const host = cluster.hosts.find((h) => h.address === s.ip_address) ?? cluster.hosts.find((h) => h.name === s.hostname);
      report.servers.push({ id: Number(id), hostname: s.hostname ?? '', ip: s.ip_address ?? '', ...(host ? { host: host.name } : {}) });
    }
    const found = report.servers.find((s) => s.host === db.name);
    report.dbServer = panel.serverId ?? found?.id;
    if (panel.serverId !== undefined && !report.servers.some((s) => s.id === panel.serverId)) {
      report.problems.push(`${cluster.name}: the panel has no server ${panel.serverId} (clusters.yml ${cluster.name}.ispconfig.server_id); its servers: ${report.servers.map((s) => `${s.id} ${s.hostname} ${s.ip}`).join(', ') || 'none'}`);
    } else if (panel.serverId !== undefined && found && found.id !== panel.serverId) {
      report.problems.push(`${cluster.name}: clusters.yml says the db host ${db.name} is the panel's server ${panel.serverId}, but the panel's server ${found.id} (${found.hostname}, ${found.ip}) is it`);
    } else if (panel.serverId === undefined && !found) {
      report.problems.push(`${cluster.name}: no server of the panel has the db host's IP ${db.address} or name ${db.name}: set ${cluster.name}.ispconfig.server_id in clusters.yml, or the server's IP in the panel`);
    }
  });
  return report;
}
