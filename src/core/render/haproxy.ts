import type { ClusterConfig, HostConfig } from '../config/types.js';
import type { InstanceConfig } from '../manifest/types.js';
import { HEADER } from './apache.js';
import { CHECK_USER_AGENT } from '../accounting/edge-log.js';
import { instanceIdent } from './names.js';
import { CACHE_CHECK_HOST } from './varnish.js';
import { needsStickySessions, STICKY_COOKIE, STICKY_HEADER } from './sessions.js';

export function backendName(instance: InstanceConfig): string {
  return `magrathea_${instanceIdent(instance)}`;
}

/**
 * 00-magrathea.cfg on one balancer host: its own defaults (so the host's
 * haproxy.cfg defaults do not leak in), and the frontend that routes by Host
 * through hosts.map, answering 404 itself for a Host no app serves.
 */
export function renderHaproxyFrontend(cluster: ClusterConfig, host: HostConfig): string {
  const map = `${cluster.paths.haproxy}/hosts.map`;
  return [
    `# ${HEADER}`,
    `# cluster ${cluster.name}, host ${host.name}`,
    'defaults',
    '    mode http',
    '    timeout connect 5s',
    '    timeout client 60s',
    '    timeout server 60s',
    '    timeout http-request 10s',
    '',
    'frontend magrathea',
    `    bind ${host.address}:${cluster.ports.balancer}`,
    '    # The client address is what HAProxy saw, whatever the client claimed.',
    '    http-request set-header X-Forwarded-For %[src]',
    `    http-request set-var(txn.magrathea_backend) req.hdr(host),field(1,:),lower,map_str(${map})`,
    '    http-request return status 404 content-type text/plain string "No app serves this host." unless { var(txn.magrathea_backend) -m found }',
    '    use_backend %[var(txn.magrathea_backend)]',
    '',
  ].join('\n');
}

/**
 * <app>.<env>.cfg: the instance's backend, the cluster's cache hosts. Each
 * is checked by asking its Varnish (main.vcl answers `CACHE_CHECK_HOST`),
 * not the app through it: HAProxy takes a server out at the first failed
 * check after a reload, so a check that waited on PHP (busy, or reloading
 * with slow requests in flight) would turn every request away for the
 * checks it takes to come back. The app's health is the web hosts' business,
 * checked by Varnish's probe.
 */
export function renderHaproxyBackend(cluster: ClusterConfig, instance: InstanceConfig): string {
  const caches = cluster.hosts.filter((h) => h.roles.includes('cache'));
  return [
    `# ${HEADER}`,
    `# app ${instance.app}, environment ${instance.env}, cluster ${cluster.name}`,
    `backend ${backendName(instance)}`,
    '    # Same URL, same cache: each object is cached on one cache host only.',
    '    balance uri whole',
    '    hash-type consistent',
    '    option httpchk',
    `    http-check send meth GET uri / ver HTTP/1.1 hdr Host ${CACHE_CHECK_HOST} hdr User-Agent ${CHECK_USER_AGENT}`,
    '    http-check expect status 200',
    ...caches.map((h) => `    server ${h.name} ${h.address}:${cluster.ports.cache} check inter 5s fall 3 rise 2`),
    ...(needsStickySessions(cluster)
      ? [
          '    # No session store: the cache names the web host that answered a browser not yet pinned to it, and the',
          '    # cookie pins the browser there (the cache cannot add it beside the app\'s own Set-Cookie).',
          `    http-response add-header Set-Cookie "${STICKY_COOKIE}=%[res.hdr(${STICKY_HEADER})]; Path=/; HttpOnly; SameSite=Lax" if { res.hdr(${STICKY_HEADER}) -m reg ^[a-z0-9-]+$ }`,
          `    http-response del-header ${STICKY_HEADER}`,
        ]
      : []),
    '',
  ].join('\n');
}

/** hosts.map: one line per domain, `<domain> <backend>`. */
export function renderHostsMap(instances: InstanceConfig[]): string {
  const lines = instances.flatMap((i) => i.domains.map((d) => `${d} ${backendName(i)}`));
  return [`# ${HEADER}`, ...lines.sort(), ''].join('\n');
}
