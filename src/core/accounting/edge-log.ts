import type { ClusterPaths } from '../config/types.js';

/**
 * The edge traffic log: what every cache host writes, one line per client
 * request that Varnish answered, cache hits included (Apache never sees
 * those). Written by `varnishncsa`, which reads Varnish's shared-memory log,
 * so it costs Varnish nothing and needs no change to the VCL or to HAProxy.
 * Declared here only: the lab starts varnishncsa with edgeLogArgv, and the
 * README's setup of a real host is renderEdgeLogUnit's and
 * renderEdgeLogRotate's output (a test keeps them equal).
 *
 * Why varnishncsa rather than HAProxy's log: HAProxy logs only through
 * syslog (a daemon more on every edge, and lines lost when it lags), while
 * varnishncsa writes a plain file itself and reopens it on SIGHUP. Every
 * request HAProxy passes on reaches a Varnish, so nothing an app serves is
 * missed; what HAProxy answers itself (404 for a Host no app serves) belongs
 * to no app.
 */

/** The header an instance's VCL sets to `<app>_<env>` for a Host it serves, after removing any the client sent. */
export const INSTANCE_HEADER = 'X-Magrathea-Instance';

/** The reason of main.vcl's 404 for a Host no instance serves (see src/core/render/varnish.ts). */
export const UNKNOWN_HOST_REASON = 'No app serves this host';

/** The User-Agent of HAProxy's checks of each cache host (see src/core/render/haproxy.ts). */
export const CHECK_USER_AGENT = 'magrathea-check';

/**
 * One line per request, fields separated by one space; the first five are
 * all accounting reads, and never contain a space:
 *
 *  1. time the request began, seconds since the epoch (UTC);
 *  2. the instance, `<app>_<env>` (`-` when none);
 *  3. the status sent to the client;
 *  4. bytes received from the client (request line, headers, body);
 *  5. bytes sent to the client (status line, headers, body);
 *
 * then, for people reading the log: 6. hit, miss, pass, pipe or synth;
 * 7. "client address, HAProxy's address"; 8. "request line"; 9. "Host";
 * 10. "Referer"; 11. "User-Agent". The edge log is the only access log that
 * sees cache hits, so it carries what an access log usually does.
 */
export const EDGE_LOG_FORMAT =
  `%{%s}t %{${INSTANCE_HEADER}}i %s %I %O %{Varnish:handling}x "%{X-Forwarded-For}i" "%r" "%{Host}i" "%{Referer}i" "%{User-agent}i"`;

/**
 * What varnishncsa leaves out (a VSL query, see vsl-query(7)):
 * - requests for a Host no instance serves: main.vcl answers them 404 with
 *   UNKNOWN_HOST_REASON. Left in, their line would carry whatever
 *   X-Magrathea-Instance the client sent (varnishncsa reports a request
 *   header's last value and ignores that the VCL removed it), so a client
 *   could bill any app.
 * - HAProxy's health checks (every 5 s per instance and cache host): they
 *   are Magrathea's, not the app's. They carry CHECK_USER_AGENT and, unlike
 *   every request HAProxy forwards, an X-Forwarded-For without HAProxy's
 *   `client, ` part, so a client sending that User-Agent is still counted.
 */
export const EDGE_LOG_QUERY =
  `not (RespReason eq "${UNKNOWN_HOST_REASON}" or (ReqHeader:User-Agent eq "${CHECK_USER_AGENT}" and not ReqHeader:X-Forwarded-For ~ ","))`;

/** Where a cache host writes its edge log: `<logs>/edge.log`. App names have no dot, so no app's log directory can be called that. */
export function edgeLogPath(paths: Pick<ClusterPaths, 'logs'>): string {
  return `${paths.logs}/edge.log`;
}

/**
 * The file a rotation leaves the previous log in, read to its end before
 * the new one. Rotation keeps it uncompressed until the next rotation
 * (logrotate's `delaycompress`).
 */
export function rotatedEdgeLogPath(paths: Pick<ClusterPaths, 'logs'>): string {
  return `${edgeLogPath(paths)}.1`;
}

/** varnishncsa's argv: append to the edge log, as a daemon writing its PID to `pidFile`. */
export function edgeLogArgv(paths: Pick<ClusterPaths, 'logs'>, pidFile: string, program = 'varnishncsa'): string[] {
  return [program, '-a', '-w', edgeLogPath(paths), '-D', '-P', pidFile, '-F', EDGE_LOG_FORMAT, '-q', EDGE_LOG_QUERY];
}

/** The PID file of Debian's varnishncsa.service. */
const UNIT_PID_FILE = '/run/varnishncsa/varnishncsa.pid';

/**
 * A systemd drop-in for Debian's varnishncsa.service
 * (`/etc/systemd/system/varnishncsa.service.d/magrathea.conf`) that makes it
 * write the edge log. systemd reads `%` as a specifier and splits on
 * spaces outside quotes: each argument is single-quoted (none holds a `'`,
 * a `\` or a `$`, which systemd would also interpret) and `%` doubled.
 */
export function renderEdgeLogUnit(paths: Pick<ClusterPaths, 'logs'>): string {
  const argv = edgeLogArgv(paths, UNIT_PID_FILE, '/usr/bin/varnishncsa');
  const quote = (arg: string): string => {
    if (/['\\$]/.test(arg)) throw new Error(`cannot write ${arg} in a systemd unit`);
    const doubled = arg.replaceAll('%', '%%');
    return /^[A-Za-z0-9_./-]+$/.test(doubled) ? doubled : `'${doubled}'`;
  };
  return [
    '# Magrathea: the edge traffic log (every request Varnish answers, cache hits included).',
    '[Service]',
    'ExecStart=',
    `ExecStart=${argv.map(quote).join(' ')}`,
    '',
  ].join('\n');
}

/**
 * logrotate's configuration for the edge log (`/etc/logrotate.d/magrathea-edge`):
 * rename, create, then SIGHUP so varnishncsa reopens. `delaycompress` keeps
 * the previous file readable, which accounting finishes before going on.
 * `copytruncate` instead of `create` and `postrotate` works too, losing the
 * lines written between the copy and the truncation (logrotate's own caveat).
 */
export function renderEdgeLogRotate(paths: Pick<ClusterPaths, 'logs'>): string {
  return [
    `${edgeLogPath(paths)} {`,
    '    daily',
    '    rotate 14',
    '    missingok',
    '    notifempty',
    '    compress',
    '    delaycompress',
    '    create 0640 varnishlog varnish',
    '    postrotate',
    '        systemctl kill --kill-whom=main --signal=HUP varnishncsa.service',
    '    endscript',
    '}',
    '',
  ].join('\n');
}
