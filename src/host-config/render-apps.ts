import type { ClusterConfig, GatewayConfig } from '../core/config/types.js';
import { InvalidInputError } from '../core/errors.js';
import { environmentForBranch, findEnvironment, resolveInstance } from '../core/manifest/resolve.js';
import type { ConfigVars, InstanceConfig } from '../core/manifest/types.js';
import { renderCluster, type RenderedFile } from '../core/render/cluster.js';
import type { Problem } from '../core/source.js';
import { show } from '../core/values.js';
import type { AppSource } from '../builder/manifest.js';

export interface ClusterRender {
  cluster: ClusterConfig;
  instances: InstanceConfig[];
  files: RenderedFile[];
}

/**
 * Resolves every instance of the given apps in one environment (by default
 * the one fed by the gateway's default branch), groups them by cluster and
 * renders each cluster. Throws InvalidInputError with every problem found.
 */
export function renderApps(config: GatewayConfig, apps: AppSource[], env?: string, vars: Record<string, ConfigVars> = {}): ClusterRender[] {
  const problems: Problem[] = [];
  const byCluster = new Map<string, InstanceConfig[]>();
  for (const app of apps) {
    const environment = env
      ? findEnvironment(app.manifest, env)
      : environmentForBranch(app.manifest, config.gateway.defaultBranch);
    if (!environment) {
      const known = app.manifest.environments.map((e) => `${e.name} (branch ${e.branch})`).join(', ');
      const wanted = env ? `no environment ${show(env)}` : `no environment is fed by the default branch ${show(config.gateway.defaultBranch)}; choose one with --env`;
      problems.push({ file: app.manifest.file, line: 1, col: 1, path: 'environments', message: `${wanted}; environments: ${known}` });
      continue;
    }
    for (const cluster of environment.clusters) {
      if (!config.clusters[cluster]) {
        const index = environment.clusters.indexOf(cluster);
        problems.push({
          ...(environment.clusterPositions[index] ?? environment.position),
          path: `environments.${environment.name}.clusters.${index}`,
          message: `no cluster ${show(cluster)} in the gateway configuration (${config.dir}/clusters.yml has: ${Object.keys(config.clusters).join(', ')})`,
        });
        continue;
      }
      const result = resolveInstance(app.manifest, { app: app.name, env: environment.name, cluster }, vars[app.name]);
      if ('problems' in result) problems.push(...result.problems);
      else byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), result.instance]);
    }
  }
  const renders: ClusterRender[] = [];
  for (const [name, instances] of byCluster) {
    const cluster = config.clusters[name]!;
    const result = renderCluster(cluster, instances);
    if ('problems' in result) problems.push(...result.problems);
    else renders.push({ cluster, instances, files: result.files });
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  return renders;
}
