import type { SshSettings, SshTarget } from '../../adapters/ssh.js';
import type { ClusterConfig, GatewayConfig, HostConfig } from '../../core/config/types.js';
import { MagratheaError, NoAppError, UsageError } from '../../core/errors.js';
import { readClusterReleases } from '../../state/host-releases.js';
import type { RedisContext } from '../../state/redis.js';
import { chooseEnvironment, readAppManifest } from '../../push/manifest.js';
import { appExists } from '../../push/repos.js';

export interface InstanceCluster {
  cluster: ClusterConfig;
  /** The cluster's web hosts, in the configuration's order. */
  webHosts: HostConfig[];
  /** Web host name → the release it serves, as the deployer recorded it (absent: none yet). */
  releases: Record<string, string>;
}

export interface InstanceTargets {
  app: string;
  env: string;
  clusters: InstanceCluster[];
}

export interface ResolveInstancesOptions {
  config: GatewayConfig;
  redis: RedisContext;
  app: string;
  /** One cluster of the environment only. */
  cluster?: string;
  /** Default: the environment fed by the gateway's default branch. */
  env?: string;
}

/**
 * Where an app's instances are: its environment (given, or the one the
 * gateway's default branch feeds, from the manifest on that branch of the
 * app's repository), that environment's clusters (or the one asked for),
 * their web hosts and the release each serves (as the deployer recorded it
 * in Redis).
 */
export async function resolveInstances(options: ResolveInstancesOptions): Promise<InstanceTargets> {
  const { config, app } = options;
  const stateDir = config.gateway.stateDir;
  if (!appExists(stateDir, app)) throw new NoAppError(app);
  const manifest = await readAppManifest(config, app);
  const environment = chooseEnvironment(config, manifest, app, options.env);
  if (options.cluster && !environment.clusters.includes(options.cluster)) {
    throw new UsageError(`${app} (${environment.name}) is not on cluster ${options.cluster}; its clusters: ${environment.clusters.join(', ')}`);
  }
  const wanted = options.cluster ? [options.cluster] : environment.clusters;
  for (const name of wanted) {
    if (!config.clusters[name]) throw new MagratheaError(`cluster ${name} of ${app} (${environment.name}) is not in the gateway configuration`, 'unknown-cluster', 1);
  }

  const clusters = await Promise.all(
    wanted.map(async (name): Promise<InstanceCluster> => {
      const cluster = config.clusters[name]!;
      const { hosts } = await readClusterReleases(options.redis, app, environment.name, name);
      return { cluster, webHosts: cluster.hosts.filter((h) => h.roles.includes('web')), releases: hosts };
    }),
  );
  return { app, env: environment.name, clusters };
}

/** How HostSession and the ssh2 client reach a host from the gateway. */
export function sshTarget(host: HostConfig): SshTarget {
  return { name: host.name, address: host.address, user: host.ssh.user, port: host.ssh.port };
}

/** The gateway's key and known_hosts, as the configuration gives them. */
export function hostSettings(config: GatewayConfig): Pick<SshSettings, 'identity' | 'knownHosts'> {
  return { identity: config.gateway.ssh.identity, knownHosts: config.gateway.ssh.knownHosts };
}
