import { join, resolve } from 'node:path';
import { MagratheaError } from '../core/errors.js';
import { HIDDEN_PATHS } from './host-view.js';

/** Where `magrathea lab` keeps a lab when no `--dir` is given: `$MAGRATHEA_LAB_DIR`, else /var/lib/magrathea/lab. */
export function defaultLabDir(): string {
  return resolve(process.env.MAGRATHEA_LAB_DIR ?? '/var/lib/magrathea/lab');
}

/** Every file of a lab, by purpose. Built in one place so `up`, `status` and `down` agree. */
export interface LabPaths {
  dir: string;
  /** The lab's shape and the mount namespaces of its hosts (JSON). */
  state: string;
  /** Held by the lab command that is changing the lab. */
  lock: string;
  /** Holds one bind mount per host: its persisted mount namespace. A private mount, see mountNamespaceDir. */
  namespaces: string;
  /** The gateway configuration describing the lab. */
  config: string;
  /** The gateway's own state directory when run against the lab. */
  gatewayState: string;
  /** Keys, known_hosts and an ssh_config for `ssh -F`. */
  ssh: string;
  /** The key the gateway (and tests) log in to the hosts with. */
  hostsKey: string;
  /** The key of the lab's admin user of the gateway (`git push`, `ssh magrathea`). */
  userKey: string;
  knownHosts: string;
  sshConfig: string;
  hosts: string;
  /** One directory per cluster, mounted at the cluster's storage path on each of its web hosts. */
  storage: string;
}

export function labPaths(dir: string): LabPaths {
  const abs = resolve(dir);
  checkLabDir(abs);
  const ssh = join(abs, 'ssh');
  return {
    dir: abs,
    state: join(abs, 'lab.json'),
    lock: join(abs, 'lab.lock'),
    namespaces: join(abs, 'ns'),
    config: join(abs, 'config'),
    gatewayState: join(abs, 'gateway'),
    ssh,
    hostsKey: join(ssh, 'id_ed25519'),
    userKey: join(ssh, 'user_ed25519'),
    knownHosts: join(ssh, 'known_hosts'),
    sshConfig: join(ssh, 'config'),
    hosts: join(abs, 'hosts'),
    storage: join(abs, 'storage'),
  };
}

/** The files of one host. */
export interface HostPaths {
  dir: string;
  /** The bind mount of the host's mount namespace. */
  namespace: string;
  /** The bind mount of the host's UTS namespace: its own host name. */
  utsNamespace: string;
  /**
   * What the host changed, at the path it has on the host: the upper
   * layers of its overlays and its fresh directories (`fs/etc/apache2/...`,
   * `fs/run/sshd.pid`, `fs/root/.ssh`). Read it from outside to see a host's files.
   */
  fs: string;
  /** Overlay work directories (the kernel's, not ours). */
  work: string;
  /** Output of the programs that started the host's daemons. */
  logs: string;
}

export function hostPaths(lab: LabPaths, host: string): HostPaths {
  const dir = join(lab.hosts, host);
  return { dir, namespace: join(lab.namespaces, host), utsNamespace: join(lab.namespaces, `${host}.uts`), fs: join(dir, 'fs'), work: join(dir, 'work'), logs: join(dir, 'logs') };
}

/** Where a path of the host lies in its own layer, seen from outside: `/run/sshd.pid` → `<host>/fs/run/sshd.pid`. */
export function onHost(host: HostPaths, path: string): string {
  return join(host.fs, path);
}

/**
 * The paths end up in overlay mount options (where `,` and `:` separate
 * fields) and must not lie under what the hosts overlay: refuse anything
 * else with a reason instead of failing somewhere in mount(8).
 */
function checkLabDir(dir: string): void {
  if (!/^\/[A-Za-z0-9._/-]*$/.test(dir)) {
    throw new MagratheaError(`lab directory ${dir}: use only letters, digits, '.', '_', '-' and '/' (it ends up in overlay mount options)`, 'lab-dir');
  }
  for (const covered of HIDDEN_PATHS) {
    if (dir === covered || dir.startsWith(`${covered}/`)) {
      throw new MagratheaError(`lab directory ${dir} lies under ${covered}, which every lab host overlays with its own; choose another --dir (default /var/lib/magrathea/lab)`, 'lab-dir');
    }
  }
  if (dir === '/') throw new MagratheaError('lab directory: / is not a lab directory', 'lab-dir');
}
