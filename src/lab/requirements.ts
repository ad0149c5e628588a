import { delimiter, join } from 'node:path';
import { MagratheaError } from '../core/errors.js';
import { pathExists } from '../lib/paths.js';

/** Programs the lab runs, by the Debian package that brings them. */
const PROGRAMS: Record<string, string> = {
  unshare: 'util-linux',
  nsenter: 'util-linux',
  mount: 'mount',
  umount: 'mount',
  ss: 'iproute2',
  pkill: 'procps',
  'start-stop-daemon': 'dpkg',
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
  apache2ctl: 'apache2',
  'php-fpm8.2': 'php8.2-fpm',
  varnishd: 'varnish',
  varnishadm: 'varnish',
  haproxy: 'haproxy',
  mariadbd: 'mariadb-server-core',
  'mariadb-install-db': 'mariadb-server-core',
  mariadb: 'mariadb-client',
};

/**
 * The lab mounts, creates namespaces and binds privileged ports: it needs
 * root and the packages of scripts/setup-debian.sh. Says what is missing,
 * all at once.
 */
export async function assertLabRequirements(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new MagratheaError('the lab needs root: it creates mount namespaces, mounts overlays and binds ports 22 and 80 on 127.0.x.y (run it with sudo)', 'lab-needs-root');
  }
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter((d) => d !== '');
  const missing: string[] = [];
  for (const [program, pkg] of Object.entries(PROGRAMS)) {
    let found = false;
    for (const dir of dirs) if (!found && (await pathExists(join(dir, program)))) found = true;
    if (!found) missing.push(`${program} (${pkg})`);
  }
  if (missing.length > 0) {
    throw new MagratheaError(`the lab needs programs that are not installed: ${missing.join(', ')}; run scripts/setup-debian.sh as root`, 'lab-missing-programs');
  }
}
