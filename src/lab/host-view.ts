/**
 * What each lab host sees as its own, at the paths a production host has.
 *
 * Overlaid: the machine's files show through (the packages' /etc/apache2,
 * /etc/php...), and whatever the host writes stays with that host, so
 * `useradd` on one host leaves the others' /etc/passwd alone, and a db
 * host's backups (/var/backups/magrathea) are its own.
 */
export const OVERLAID_PATHS = ['/etc', '/home', '/srv', '/var/www', '/var/log', '/var/backups', '/var/lib/apache2', '/var/lib/php', '/var/lib/varnish', '/var/lib/haproxy'] as const;

/** A directory of the lab mounted into a host at `target`, as a network filesystem would be (the cluster's storage). */
export interface HostBind {
  source: string;
  target: string;
}

/**
 * Fresh: empty directories of the host's own, with their modes. /run and
 * /tmp start empty as after a boot; /root is a clean home, because the
 * machine's root may have start-up files that cost seconds per SSH command;
 * /var/lib/mysql is the host's own database files (on a db host), never the
 * machine's. /root and /var/lib/mysql are kept across `lab up`. Mounted after
 * the overlays, /tmp last: a lab directory under /tmp stays reachable until
 * the last mount is made.
 */
export const FRESH_PATHS = [
  { path: '/root', mode: 0o700 },
  { path: '/var/lib/mysql', mode: 0o700 },
  { path: '/run', mode: 0o755 },
  { path: '/tmp', mode: 0o1777 },
] as const;

/** The fresh paths emptied at each boot of the host. */
export const EMPTIED_AT_BOOT = ['/run', '/tmp'] as const;

/** /var/run is /run on Debian: a lab directory there would be hidden too. /tmp is not: it is mounted last. */
export const HIDDEN_PATHS = [...OVERLAID_PATHS, ...FRESH_PATHS.map((f) => f.path).filter((p) => p !== '/tmp'), '/var/run'] as const;
