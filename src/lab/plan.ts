import type { Role } from '../core/config/types.js';
import { UsageError } from '../core/errors.js';

/** The shape of a lab: how many clusters, how many web hosts each, which loopback addresses. */
export interface LabShape {
  /** Clusters, 1 to 9. Default 2. */
  clusters: number;
  /** Web hosts per cluster (Apache + PHP-FPM), 1 to 20; each cluster also gets one edge host. Default 2. */
  webHosts: number;
  /**
   * Cluster N (from 1) takes the addresses 127.0.(subnet + N - 1).Y. Default 1,
   * so cluster-a is 127.0.1.*; a second lab on the same machine (a test
   * run beside a user's lab) picks another.
   */
  subnet: number;
}

export const DEFAULT_SHAPE: LabShape = { clusters: 2, webHosts: 2, subnet: 1 };

/** Ports every lab cluster uses: the defaults of the gateway configuration, as on real hosts. */
export const LAB_PORTS = { ssh: 22, web: 80, cache: 6081, varnishAdmin: 6082, balancer: 80, sessions: 6379, db: 3306 } as const;

/**
 * Where each cluster's storage is mounted on its web hosts (clusters.yml
 * `storage`): one directory of the lab per cluster, what a network
 * filesystem looks like to the apps.
 */
export const LAB_STORAGE = '/srv/magrathea';

export interface LabHost {
  name: string;
  cluster: string;
  address: string;
  roles: Role[];
}

export interface LabCluster {
  name: string;
  hosts: LabHost[];
  /** The host with the cache and balancer roles: the cluster's front door; also its session store and its database server. */
  edge: LabHost;
  /** The URL of the cluster's front door, as written into the gateway configuration. */
  url: string;
}

export interface LabPlan {
  shape: LabShape;
  clusters: LabCluster[];
  hosts: LabHost[];
}

/**
 * Names and addresses of every host of a lab of the given shape. Pure and
 * deterministic: `up`, `status` and `down` all derive the same plan from the
 * shape recorded in the lab's state. Web hosts take .1 to .M, the edge .M+1.
 */
export function planLab(shape: LabShape): LabPlan {
  checkShape(shape);
  const clusters: LabCluster[] = [];
  for (let c = 0; c < shape.clusters; c++) {
    const letter = String.fromCharCode(97 + c);
    const name = `cluster-${letter}`;
    const net = `127.0.${shape.subnet + c}`;
    const hosts: LabHost[] = [];
    for (let w = 1; w <= shape.webHosts; w++) hosts.push({ name: `${letter}-web-${w}`, cluster: name, address: `${net}.${w}`, roles: ['web'] });
    const edge: LabHost = { name: `${letter}-edge`, cluster: name, address: `${net}.${shape.webHosts + 1}`, roles: ['cache', 'balancer', 'sessions', 'db'] };
    hosts.push(edge);
    clusters.push({ name, hosts, edge, url: `http://${edge.address}${LAB_PORTS.balancer === 80 ? '' : `:${LAB_PORTS.balancer}`}` });
  }
  return { shape, clusters, hosts: clusters.flatMap((c) => c.hosts) };
}

function checkShape(shape: LabShape): void {
  const whole = (n: number, min: number, max: number): boolean => Number.isInteger(n) && n >= min && n <= max;
  if (!whole(shape.clusters, 1, 9)) throw new UsageError(`lab: --clusters must be a whole number from 1 to 9, not ${shape.clusters}`);
  if (!whole(shape.webHosts, 1, 20)) throw new UsageError(`lab: --hosts must be a whole number from 1 to 20, not ${shape.webHosts}`);
  if (!whole(shape.subnet, 1, 255 - shape.clusters)) {
    throw new UsageError(`lab: --subnet must be a whole number from 1 to ${255 - shape.clusters} (clusters take 127.0.<subnet>.* onwards), not ${shape.subnet}`);
  }
}
