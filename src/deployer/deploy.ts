import type { GatewayConfig } from '../core/config/types.js';
import { controlDir, type SshSettings } from '../adapters/ssh.js';
import { InvalidInputError, MagratheaError } from '../core/errors.js';
import type { ProgressLog } from '../core/deploy-event.js';
import { findEnvironment, resolveInstance } from '../core/manifest/resolve.js';
import type { ConfigVars, InstanceConfig, Manifest } from '../core/manifest/types.js';
import type { Problem } from '../core/source.js';
import { adviseHookFailure, adviseInstance, formatAdvice, sessionsMatterOn } from '../core/advice.js';
import { deployCluster } from './deploy-cluster.js';
import { readReleaseFacts, readRequiredExtensions } from './release-facts.js';
import type { ClusterOutcome, DeployOutcome, DeployState } from './types.js';
import { formatTable } from '../core/table.js';

export interface DeployInput {
  app: string;
  env: string;
  release: string;
  manifest: Manifest;
  /** The built release tree on the gateway. */
  source: string;
  /** Only these clusters of the environment (`git push -o cluster=...`). Default: all, in the manifest's order. */
  clusters?: string[];
  vars?: ConfigVars;
  /** The deploy's job id, so that a rerun takes its cluster locks back. */
  owner?: string;
  /** A review instance's own branch (`review/x`), recorded with it. */
  branch?: string;
}

export interface DeployDeps {
  config: GatewayConfig;
  state: DeployState;
  log: ProgressLog;
}

/**
 * Deploys a built release to the clusters of its environment: one after the
 * other, stopping at the first that fails (`rolling`), or all at once
 * (`parallel`). Every instance is resolved before any host is touched.
 */
export async function deploy(input: DeployInput, deps: DeployDeps): Promise<DeployOutcome> {
  const environment = findEnvironment(input.manifest, input.env);
  if (!environment) throw new MagratheaError(`${input.app} has no environment "${input.env}"`, 'unknown-environment');
  const clusters = input.clusters ?? environment.clusters;
  const problems: Problem[] = [];
  const instances: InstanceConfig[] = [];
  for (const name of clusters) {
    if (!environment.clusters.includes(name)) {
      throw new MagratheaError(`environment ${input.env} of ${input.app} does not deploy to ${name}; its clusters: ${environment.clusters.join(', ')}`, 'unknown-cluster');
    }
    if (!deps.config.clusters[name]) throw new MagratheaError(`no cluster "${name}" in the gateway configuration (${deps.config.dir}/clusters.yml)`, 'unknown-cluster');
    const result = resolveInstance(input.manifest, { app: input.app, env: input.env, cluster: name, ...(input.branch ? { branch: input.branch } : {}) }, input.vars);
    if ('problems' in result) problems.push(...result.problems);
    else instances.push(result.instance);
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  // A database needs a db host on every cluster it goes to: refused before any cluster is touched.
  const noDb = instances.filter((i) => i.database && !deps.config.clusters[i.cluster]!.db).map((i) => i.cluster);
  if (noDb.length > 0) {
    throw new MagratheaError(`${input.app} (${input.env}) declares a database (database.engine: mysql in magrathea.yml), and ${noDb.map((c) => `cluster ${c}`).join(', ')} ${noDb.length > 1 ? 'have' : 'has'} no host of role db in clusters.yml (${deps.config.dir}/clusters.yml); nothing was deployed`, 'no-db-host');
  }

  // Advice first, once per line: the same shared dir on two clusters without storage is two lines, the same health path one.
  const facts = await readReleaseFacts(input.source, instances, instances.some((i) => sessionsMatterOn(deps.config.clusters[i.cluster]!)));
  const advice = new Set(instances.flatMap((instance, i) => adviseInstance(instance, deps.config.clusters[instance.cluster]!, facts[i]!).map(formatAdvice)));
  for (const line of advice) deps.log(line, { phase: 'prepare', status: 'warning' });
  const extensions = await readRequiredExtensions(input.source);

  const ssh = hostSshSettings(deps.config);
  const one = (instance: InstanceConfig): Promise<ClusterOutcome> =>
    deployCluster({
      cluster: deps.config.clusters[instance.cluster]!,
      instance,
      release: input.release,
      source: input.source,
      extensions,
      keepReleases: deps.config.gateway.keepReleases,
      hookTimeoutSeconds: deps.config.gateway.releaseHookTimeoutSeconds,
      ...(input.owner ? { owner: input.owner } : {}),
      ssh,
      state: deps.state,
      log: deps.log,
    });

  const outcomes: ClusterOutcome[] = [];
  if (environment.strategy === 'parallel') {
    outcomes.push(...(await Promise.all(instances.map(one))));
  } else {
    for (const instance of instances) {
      if (outcomes.some((o) => o.status !== 'live')) {
        const cluster = deps.config.clusters[instance.cluster]!;
        outcomes.push({ cluster: cluster.name, status: 'skipped', release: input.release, hosts: cluster.hosts.length, url: cluster.edge, seconds: 0 });
        continue;
      }
      outcomes.push(await one(instance));
    }
  }
  const failures = new Set(outcomes.flatMap((o) => (o.error && /: hook: /.test(o.error) ? adviseHookFailure(o.error).map(formatAdvice) : [])));
  for (const line of failures) deps.log(line, { phase: 'hook', status: 'warning' });
  return { app: input.app, env: input.env, release: input.release, ok: outcomes.every((o) => o.status === 'live'), clusters: outcomes };
}

/** How the deployer logs in to the hosts: the gateway's key and known_hosts, its control sockets, its masters kept `ssh.master_idle`. */
export function hostSshSettings(config: GatewayConfig): SshSettings {
  const { identity, knownHosts, masterIdleSeconds } = config.gateway.ssh;
  return { identity, knownHosts, controlDir: controlDir(config.gateway.stateDir), masterIdleSeconds };
}

/** The table printed at the end of a deploy (and of a push). */
export function formatDeployResult(result: DeployOutcome): string {
  const rows = [['CLUSTER', 'STATUS', 'RELEASE', 'HOSTS', 'URL', 'TIME']].concat(
    result.clusters.map((o) => [o.cluster, o.status, o.serving ?? (o.status === 'skipped' ? '-' : 'unchanged'), String(o.hosts), o.url, `${o.seconds.toFixed(1)}s`]),
  );
  return formatTable(rows) + result.clusters.filter((o) => o.error).map((o) => `error: ${o.error}\n`).join('');
}
