import type { GatewayConfig } from '../core/config/types.js';
import { authorizeDeploy } from '../core/access.js';
import { MagratheaError } from '../core/errors.js';
import type { InstanceConfig } from '../core/manifest/types.js';
import type { DeployState } from './types.js';

/**
 * Refuses a deploy, before anything is built, when its requester may not
 * deploy these instances (a member's `clusters` and `domains` in
 * users.yml), or when one of their domains is served by another app on
 * any cluster: the first app to claim a domain keeps it until it lets it
 * go. A requester that is not a user of users.yml (an operator running
 * `magrathea deploy` on the gateway) is bound by the second rule only.
 */
export async function checkDeployAllowed(config: GatewayConfig, state: Pick<DeployState, 'clusterInstances'>, requestedBy: string, instances: readonly InstanceConfig[]): Promise<void> {
  const user = Object.hasOwn(config.users, requestedBy) ? config.users[requestedBy] : undefined;
  if (user) {
    const access = authorizeDeploy(user, instances[0]?.app ?? '', instances);
    if (!access.ok) throw new MagratheaError(access.reason, 'forbidden', 1, false);
  }
  const wanted = new Map(instances.flatMap((i) => i.domains.map((d) => [d, i] as const)));
  if (wanted.size === 0) return;
  for (const cluster of Object.keys(config.clusters)) {
    for (const live of await state.clusterInstances(cluster)) {
      if (live.app === instances[0]?.app) continue;
      const taken = live.domains.find((d) => wanted.has(d));
      if (taken) throw new MagratheaError(`the domain ${taken} is served by app ${live.app} (${live.env}) on ${cluster}: an app cannot claim another app's domain`, 'domain-taken', 1, false);
    }
  }
}
