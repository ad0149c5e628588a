import type { Role } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';
import { serviceStatus, type ServiceStatus } from './host-status.js';
import { hostNamespaceInode } from './namespace.js';
import { hostPaths, labPaths, type LabPaths } from './paths.js';
import { planLab, type LabPlan, type LabShape } from './plan.js';
import { hostServices, installedPhpVersions } from './services.js';
import { readLabState } from './state.js';

export interface LabHostStatus {
  name: string;
  cluster: string;
  address: string;
  roles: Role[];
  /** Every service runs and answers. */
  up: boolean;
  services: ServiceStatus[];
}

/** What `magrathea lab status --json` prints: enough for a script to drive the lab. */
export interface LabStatus {
  dir: string;
  /** The gateway configuration directory describing the lab. */
  config: string;
  /** Every service of every host answers. */
  up: boolean;
  shape: LabShape;
  ssh: {
    /** For `ssh -F <config> <host name or address> [command]`. */
    config: string;
    user: 'root';
    identity: string;
    knownHosts: string;
  };
  hosts: LabHostStatus[];
  edges: { cluster: string; host: string; url: string }[];
}

/** The lab at `dir`, each service probed now. Fails when there is no lab there. */
export async function readLabStatus(dir: string): Promise<LabStatus> {
  const lab = labPaths(dir);
  const state = await readLabState(lab);
  if (!state) throw new MagratheaError(`no lab at ${lab.dir} (no ${lab.state}); bring one up with \`magrathea lab up --dir ${lab.dir}\``, 'lab-absent');
  const plan = planLab(state.shape);
  const php = await installedPhpVersions();
  const hosts = await Promise.all(
    plan.hosts.map(async (host): Promise<LabHostStatus> => {
      const paths = hostPaths(lab, host.name);
      const inode = await hostNamespaceInode(paths);
      const services = await Promise.all(hostServices(host, php).map((s) => serviceStatus(host, paths, s, inode)));
      return { name: host.name, cluster: host.cluster, address: host.address, roles: host.roles, up: services.every((s) => s.up), services };
    }),
  );
  return describe(lab, plan, hosts);
}

function describe(lab: LabPaths, plan: LabPlan, hosts: LabHostStatus[]): LabStatus {
  return {
    dir: lab.dir,
    config: lab.config,
    up: hosts.every((h) => h.up),
    shape: plan.shape,
    ssh: { config: lab.sshConfig, user: 'root', identity: lab.hostsKey, knownHosts: lab.knownHosts },
    hosts,
    edges: plan.clusters.map((c) => ({ cluster: c.name, host: c.edge.name, url: c.url })),
  };
}
