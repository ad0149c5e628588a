import { withPanel, type PanelClient } from '../adapters/ispconfig.js';
import type { GatewayConfig } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';
import type { InstanceConfig } from '../core/manifest/types.js';

type WebDomain = { domain_id: number | string; domain: string; type: string; parent_domain_id: number | string; subdomain?: string; server_id: number | string };

/**
 * What the panel serves of `domain`, if anything: a site, an alias or a
 * subdomain of one by that name, or a site one level up whose automatic
 * subdomain (`www`, or `*`) covers it. Its words name the site and the
 * panel's ids.
 */
export async function panelSiteOf(api: PanelClient, domain: string): Promise<string | undefined> {
  const get = async (filter: Record<string, string | number>): Promise<WebDomain[]> => {
    const rows = await api.call<WebDomain[] | false>('sites_web_domain_get', { primary_id: filter });
    return Array.isArray(rows) ? rows : [];
  };
  const site = async (row: WebDomain): Promise<string> => {
    if (Number(row.parent_domain_id) === 0) return `site ${row.domain} (web_domain id ${row.domain_id}, server ${row.server_id})`;
    const parent = (await get({ domain_id: Number(row.parent_domain_id) }))[0];
    return `${row.type} ${row.domain} (web_domain id ${row.domain_id}) of site ${parent?.domain ?? '?'} (web_domain id ${row.parent_domain_id}, server ${row.server_id})`;
  };
  const exact = (await get({ domain }))[0];
  if (exact) return site(exact);
  const [first, ...rest] = domain.split('.');
  if (rest.length < 2) return undefined;
  const up = rest.join('.');
  for (const row of await get({ domain: up })) {
    if (row.subdomain === '*' || (row.subdomain === 'www' && first === 'www')) return `${await site(row)}, whose subdomain setting "${row.subdomain}" serves ${domain}`;
  }
  return undefined;
}

/**
 * A deploy may not claim a domain the cluster's panel already serves:
 * checked for every instance on a cluster with a panel, before anything
 * is built, and refused in one line naming the site and the panel's id.
 */
export async function checkPanelDomains(config: GatewayConfig, instances: readonly InstanceConfig[]): Promise<void> {
  for (const name of [...new Set(instances.map((i) => i.cluster))]) {
    const cluster = config.clusters[name];
    const ispconfig = cluster?.ispconfig;
    if (!cluster || !ispconfig) continue;
    await withPanel({ ...cluster, ispconfig }, async (api) => {
      for (const instance of instances.filter((i) => i.cluster === name)) {
        for (const domain of instance.domains) {
          const served = await panelSiteOf(api, domain);
          if (served) {
            throw new MagratheaError(
              `${name}: the domain ${domain} of ${instance.app} (${instance.env}) is already served by the cluster's ISPConfig panel: ${served}; remove it from the panel, or from magrathea.yml; nothing was built`,
              'domain-in-panel',
              1,
              false,
            );
          }
        }
      }
    });
  }
}
