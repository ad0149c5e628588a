import { validateGatewayConfig } from '../config/validate.js';
import type { ClusterConfig } from '../config/types.js';
import type { InstanceConfig } from '../manifest/types.js';
import { resolveInstance } from '../manifest/resolve.js';
import { validateManifest } from '../manifest/validate.js';

/** For the renderers' unit tests: cluster `c1` of a clusters.yml text. */
export function testCluster(clustersYml: string): ClusterConfig {
  const result = validateGatewayConfig('/test/config', { 'clusters.yml': clustersYml });
  if ('problems' in result) throw new Error(JSON.stringify(result.problems));
  return result.config.clusters.c1!;
}

/** For the renderers' unit tests: the production instance of `app` on cluster c1, from its magrathea.yml text. */
export function testInstance(app: string, manifest: string): InstanceConfig {
  const parsed = validateManifest(manifest, `${app}/magrathea.yml`);
  if ('problems' in parsed) throw new Error(JSON.stringify(parsed.problems));
  const result = resolveInstance(parsed.manifest, { app, env: 'production', cluster: 'c1' });
  if ('problems' in result) throw new Error(JSON.stringify(result.problems));
  return result.instance;
}
