import { readdir } from 'node:fs/promises';
import { DEFAULT_PATHS } from '../core/config/validate.js';
import { edgeLogArgv, edgeLogPath } from '../core/accounting/edge-log.js';
import { LAB_PORTS, type LabHost } from './plan.js';

/**
 * One daemon of a lab host, started the way a host without systemd would
 * start it. Paths are the host's own (inside its namespace).
 */
export interface LabService {
  /** `sshd`, `apache`, `php-fpm8.2`, `varnish`, `haproxy`, `mariadb`. */
  name: string;
  /**
   * Run once in the host before the daemon's first start: what makes its
   * data directory (`dir`, emptied first). The lab marks `dir` done once it
   * succeeded; a later boot finds the mark and runs nothing.
   */
  setup?: { run: string[]; dir: string };
  /** The launcher, run in the host's namespace; it returns once the daemon has detached. */
  start: string[];
  /** Where the daemon writes its (master) PID. */
  pidFile: string;
  /** What answers when the daemon is up: a TCP port on the host's address, a unix socket, or a file it writes. */
  ready: { port: number } | { socket: string } | { file: string };
}

/** The PHP versions whose FPM is installed (`8.2`), from /usr/sbin/php-fpm<version>. */
export async function installedPhpVersions(): Promise<string[]> {
  const names = await readdir('/usr/sbin');
  return names
    .map((n) => /^php-fpm([0-9]+\.[0-9]+)$/.exec(n)?.[1])
    .filter((v): v is string => v !== undefined)
    .sort();
}

const VARNISHNCSA_PID = '/run/varnishncsa.pid';

/** The session store's configuration on a lab host of role sessions (root-only: it holds the admin password). */
export const SESSIONS_CONF = '/etc/redis/magrathea-sessions.conf';

/** The database server's files on a lab host of role db: its own, never the machine's (see FRESH_PATHS). */
export const DB_DATADIR = '/var/lib/mysql';
/** Where root on the db host reaches the server: the socket the Debian client uses by default. */
export const DB_SOCKET = '/run/mysqld/mysqld.sock';
const DB_PID = '/run/mysqld/mysqld.pid';

/**
 * The cluster's database server (role db). Small redo log and caches:
 * every lab, and every test run's labs, run one per cluster on the same
 * machine. Root logs in through the socket only: mariadb-install-db's
 * default gives root@localhost the unix_socket plugin (the client's uid must
 * be root's) and no password, and creates no other root account; with
 * skip-name-resolve, no TCP client is `localhost`, so root over TCP matches
 * no account at all. (`--auth-root-authentication-method=normal` would
 * create root@127.0.0.1 without a password, and every other lab host's
 * connection comes from 127.0.0.1.)
 */
function dbService(host: LabHost): LabService {
  const common = ['--no-defaults', `--datadir=${DB_DATADIR}`, '--user=root', '--skip-name-resolve', '--innodb-log-file-size=8M'];
  return {
    name: 'mariadb',
    setup: {
      run: ['/usr/bin/mariadb-install-db', ...common, '--auth-root-authentication-method=socket', '--skip-test-db'],
      dir: DB_DATADIR,
    },
    // mariadbd stays in the foreground: start-stop-daemon detaches it (matched by its pidfile: /proc shows every lab's mariadbd).
    start: [
      '/usr/sbin/start-stop-daemon', '--start', '--background', '--quiet', '--pidfile', DB_PID, '--exec', '/usr/sbin/mariadbd', '--',
      ...common,
      `--bind-address=${host.address}`,
      `--port=${LAB_PORTS.db}`,
      `--socket=${DB_SOCKET}`,
      `--pid-file=${DB_PID}`,
      '--log-error=/var/log/mariadb.log',
      // About 55 MB of memory instead of 90: the defaults size caches for a machine of its own.
      '--innodb-buffer-pool-size=16M',
      '--innodb-log-buffer-size=2M',
      '--key-buffer-size=1M',
      '--aria-pagecache-buffer-size=1M',
    ],
    pidFile: DB_PID,
    ready: { port: LAB_PORTS.db },
  };
}

/** The daemons of a host, in start order: sshd first, so a host that fails later can still be looked into. */
export function hostServices(host: LabHost, phpVersions: readonly string[]): LabService[] {
  const services: LabService[] = [
    {
      name: 'sshd',
      start: ['/usr/sbin/sshd', '-f', '/etc/ssh/sshd_config', '-E', '/var/log/sshd.log'],
      pidFile: '/run/sshd.pid',
      ready: { port: LAB_PORTS.ssh },
    },
  ];
  if (host.roles.includes('web')) {
    for (const v of phpVersions) {
      services.push({
        name: `php-fpm${v}`,
        start: [`/usr/sbin/php-fpm${v}`, '--fpm-config', `/etc/php/${v}/fpm/php-fpm.conf`],
        pidFile: `/run/php/php${v}-fpm.pid`,
        ready: { socket: `/run/php/php${v}-fpm.sock` },
      });
    }
    // apache2ctl reads /etc/apache2/envvars, as the init script does; it starts httpd directly when PID 1 is not systemd.
    services.push({ name: 'apache', start: ['/usr/sbin/apache2ctl', 'start'], pidFile: '/run/apache2/apache2.pid', ready: { port: LAB_PORTS.web } });
  }
  if (host.roles.includes('cache')) {
    services.push({
      name: 'varnish',
      start: [
        '/usr/sbin/varnishd',
        '-a', `${host.address}:${LAB_PORTS.cache}`,
        '-T', `${host.address}:${LAB_PORTS.varnishAdmin}`,
        '-S', '/etc/varnish/secret',
        // Every instance's VCL loaded and labelled, then main.vcl used: what deploys left, back after a restart.
        '-I', '/etc/varnish/magrathea/boot.cli',
        '-f', '',
        '-s', 'malloc,64m',
        // VCL compiled as Debian's default does, with the same checks (-Werror), but without -O2: about half the compile
        // time, which every deploy's VCL waits for (a lab runs hundreds of deploys; VCL's C gains nothing from -O2).
        '-p', 'cc_command=exec gcc -g -O0 -Wformat -Werror=format-security -Werror -Wno-error=unused-result -pthread -fpic -shared -Wl,-x -o %o %s',
        '-P', '/run/varnishd.pid',
      ],
      pidFile: '/run/varnishd.pid',
      ready: { port: LAB_PORTS.cache },
    });
    // The edge traffic log, as a real cache host writes it (the lab's clusters use the default paths).
    services.push({
      name: 'varnishncsa',
      start: edgeLogArgv(DEFAULT_PATHS, VARNISHNCSA_PID, '/usr/bin/varnishncsa'),
      pidFile: VARNISHNCSA_PID,
      ready: { file: edgeLogPath(DEFAULT_PATHS) },
    });
  }
  if (host.roles.includes('sessions')) {
    // The cluster's session store: its admin password is in the file the gateway configuration names (the default).
    services.push({ name: 'redis-sessions', start: ['/usr/bin/redis-server', SESSIONS_CONF], pidFile: '/run/redis-sessions.pid', ready: { port: LAB_PORTS.sessions } });
  }
  if (host.roles.includes('db')) services.push(dbService(host));
  if (host.roles.includes('balancer')) {
    services.push({
      name: 'haproxy',
      // Master-worker: USR2 to the master reloads, as `reload` in the lab's configuration does.
      start: ['/usr/sbin/haproxy', '-W', '-D', '-p', '/run/haproxy.pid', '-f', '/etc/haproxy/haproxy.cfg', '-f', '/etc/haproxy/magrathea.d'],
      pidFile: '/run/haproxy.pid',
      ready: { port: LAB_PORTS.balancer },
    });
  }
  return services;
}

/** Addresses and ports a host's daemons will bind, to check before starting them. */
export function hostBinds(host: LabHost, services: readonly LabService[]): { service: string; port: number }[] {
  const binds = services.flatMap((s) => ('port' in s.ready ? [{ service: s.name, port: s.ready.port }] : []));
  if (host.roles.includes('cache')) binds.push({ service: 'varnish (admin)', port: LAB_PORTS.varnishAdmin });
  return binds;
}
