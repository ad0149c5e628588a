/**
 * What each lab host sees as its own, at the paths a production host has.
 *
 * Overlaid: the machine's files show through (the packages' /etc/apache2,
 * /etc/php...), and whatever the host writes stays with that host, so
 * `useradd` on one host leaves the others' /etc/passwd alone.
 */
export const OVERLAID_PATHS = ['/etc', '/home', '/srv', '/var/www', '/var/log', '/var/lib/apache2', '/var/lib/php', '/var/lib/varnish', '/var/lib/haproxy'] as const;

/** A directory of the lab mounted into a host at `target`, as a network filesystem would be (the cluster's storage). */
export interface HostBind {
  source: string;
  target: string;
}

/**
 * Fresh: empty directories of the host's own. /run and /tmp start empty as
 * after a boot; /root is a clean home, because the machine's root may have
 * start-up files that cost seconds per SSH command. Mounted after the
 * overlays, /tmp last: a lab directory under /tmp stays reachable until the
 * last mount is made.
 */
export const FRESH_PATHS = ['/root', '/run', '/tmp'] as const;

/** /var/run is /run on Debian: a lab directory there would be hidden too. */
export const HIDDEN_PATHS = [...OVERLAID_PATHS, '/root', '/run', '/var/run'] as const;
