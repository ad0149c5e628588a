import type { ClusterConfig } from '../config/types.js';
import type { InstanceConfig } from '../manifest/types.js';
import { HEADER } from './apache.js';
import { instanceId, instanceIdent, PROBE_PATH, type InstanceKey } from './names.js';
import { needsStickySessions, STICKY_COOKIE, STICKY_HEADER } from './sessions.js';

/** Set on each request by the instance that claims its Host; cleared first, so a client cannot set it. */
const INSTANCE_HEADER = 'X-Magrathea-Instance';

/**
 * Varnish names of an instance's VCLs. Each instance's VCL is loaded on its
 * own and labelled; main.vcl hands each request to the label of its Host.
 * The prefixes never overlap: app and environment names hold no `_`.
 */
export function vclLabel(i: InstanceKey): string {
  return `magrathea_label_${instanceIdent(i)}`;
}

/** `magrathea_app_<app>_<env>_`: the loaded VCLs of one instance, one per load. */
export function instanceVclPrefix(i: InstanceKey): string {
  return `magrathea_app_${instanceIdent(i)}_`;
}

export const MAIN_VCL_PREFIX = 'magrathea_main_';

/**
 * The Host of HAProxy's checks of a cache host, which main.vcl answers
 * itself: one label, so no app can have it as a domain, and HAProxy's map
 * never sends a client's request with it.
 */
export const CACHE_CHECK_HOST = 'magrathea-check';

export function mainVclPath(varnishDir: string): string {
  return `${varnishDir}/main.vcl`;
}

/** apps/<app>.<env>.vcl, relative to the cluster's Varnish directory. */
export function instanceVclPath(varnishDir: string, i: InstanceKey): string {
  return `${varnishDir}/apps/${instanceId(i)}.vcl`;
}

/**
 * main.vcl: normalises Host and hands the request to the label of the
 * instance that serves it (its own VCL does the rest, backend side too);
 * 404 for any other Host; 200 itself for HAProxy's check of the cache
 * (`CACHE_CHECK_HOST`). It names labels only, so it changes when the set
 * of domains changes, not when an app's rules do; and it compiles only
 * where those labels exist (on the cache host, by vcl.load).
 */
export function renderMainVcl(instances: readonly InstanceConfig[]): string {
  return [
    'vcl 4.1;',
    `# ${HEADER}`,
    '',
    'import std;',
    '',
    '# A VCL needs a backend; each app\'s own VCL has its own.',
    'backend magrathea_none none;',
    '',
    'sub vcl_recv {',
    `    unset req.http.${INSTANCE_HEADER};`,
    '    # Hosts are matched in lower case, without a port.',
    '    set req.http.host = std.tolower(regsub(req.http.host, ":[0-9]+$", ""));',
    `    if (req.http.host == "${CACHE_CHECK_HOST}") {`,
    '        return (synth(200, "Cache up"));',
    '    }',
    ...instances.filter((i) => i.domains.length > 0).flatMap((i) => [`    if (${hostTest(i)}) {`, `        return (vcl(${vclLabel(i)}));`, '    }']),
    '    return (synth(404, "No app serves this host"));',
    '}',
    '',
  ].join('\n');
}

/**
 * boot.cli, for `varnishd -I`: at a start of Varnish, every instance's VCL
 * loaded and labelled, then main.vcl made active, so that a restarted
 * cache serves what it served before (main.vcl alone cannot compile
 * without the labels). varnishd stops if a command fails.
 */
export function renderVarnishBoot(varnishDir: string, instances: readonly InstanceConfig[]): string {
  const quote = (path: string) => `"${path.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  // No header comment: the CLI reads every line as a command.
  return [
    ...instances.flatMap((i) => [`vcl.load ${instanceVclPrefix(i)}boot ${quote(instanceVclPath(varnishDir, i))}`, `vcl.label ${vclLabel(i)} ${instanceVclPrefix(i)}boot`]),
    `vcl.load ${MAIN_VCL_PREFIX}boot ${quote(mainVclPath(varnishDir))}`,
    `vcl.use ${MAIN_VCL_PREFIX}boot`,
    '',
  ].join('\n');
}

/**
 * apps/<app>.<env>.vcl: a whole VCL of its own, compiled and loaded alone,
 * reached through its label: the instance's probe, one backend per web
 * host, a round-robin director, its routing and caching rules.
 */
export function renderAppVcl(cluster: ClusterConfig, instance: InstanceConfig): string {
  return [
    'vcl 4.1;',
    '',
    'import std;',
    'import directors;',
    '',
    '# The default backend, as in main.vcl; requests get the instance\'s director.',
    'backend magrathea_none none;',
    '',
    renderAppVclBody(cluster, instance),
    '# A web host that fails (stopped, restarting) before its probe notices, or whose Apache answers 503',
    '# (its PHP-FPM down: the probe, served without PHP, does not see it): try the next one once.',
    '# Only for requests that can be repeated.',
    'sub vcl_backend_error {',
    '    if (bereq.retries == 0 && (bereq.method == "GET" || bereq.method == "HEAD")) {',
    '        return (retry);',
    '    }',
    '}',
    '',
    'sub vcl_backend_response {',
    '    if (beresp.status == 503 && bereq.retries == 0 && (bereq.method == "GET" || bereq.method == "HEAD")) {',
    '        return (retry);',
    '    }',
    '}',
    '',
  ].join('\n');
}

function hostTest(instance: InstanceConfig): string {
  return instance.domains.map((d) => `req.http.host == "${d}"`).join(' || ') || 'false';
}

/** What an instance adds to a VCL: its probe, backends, director and subroutines (no `vcl` line, imports or default backend). */
export function renderAppVclBody(cluster: ClusterConfig, instance: InstanceConfig): string {
  const ident = instanceIdent(instance);
  const webHosts = cluster.hosts.filter((h) => h.roles.includes('web'));
  const sticky = needsStickySessions(cluster);
  const probeHost = instance.domains[0] ?? `${instanceId(instance)}.invalid`;
  return [
    `# ${HEADER}`,
    `# app ${instance.app}, environment ${instance.env}, cluster ${cluster.name}`,
    '',
    `probe p_${ident} {`,
    // A file Apache serves itself (the vhost's Alias): the probe shows that this host has the instance's
    // vhost, and starts no PHP worker. Probing the app's health path would keep a worker of every pool
    // alive on every host (pm = ondemand lets idle pools empty), and after a PHP-FPM reload would
    // start them all at once: on a host of 100 apps, enough to time probes out and answer 503.
    `    .request = "GET ${PROBE_PATH} HTTP/1.1" "Host: ${probeHost}" "User-Agent: magrathea-probe" "Connection: close";`,
    '    .expected_response = 200;',
    '    .interval = 5s;',
    '    .timeout = 3s;',
    '    .window = 5;',
    '    .threshold = 3;',
    '    # Start healthy: a freshly loaded VCL must not answer 503 until its first poll.',
    '    .initial = 3;',
    '}',
    '',
    ...webHosts.flatMap((h) => [
      `backend b_${ident}_${h.name} {`,
      `    .host = "${h.address}";`,
      `    .port = "${cluster.ports.web}";`,
      `    .probe = p_${ident};`,
      '    .connect_timeout = 3s;',
      '    .first_byte_timeout = 60s;',
      '}',
      '',
    ]),
    'sub vcl_init {',
    `    new d_${ident} = directors.round_robin();`,
    ...webHosts.map((h) => `    d_${ident}.add_backend(b_${ident}_${h.name});`),
    '}',
    '',
    'sub vcl_recv {',
    `    if (${hostTest(instance)}) {`,
    `        set req.http.${INSTANCE_HEADER} = "${ident}";`,
    `        set req.backend_hint = d_${ident}.backend();`,
    ...(sticky ? stickyRecv(ident, webHosts.map((h) => h.name)) : []),
    ...instance.cache.pass.flatMap((p) => [`        if (req.url ~ "${p}") {`, '            return (pass);', '        }']),
    '    }',
    '}',
    '',
    'sub vcl_backend_response {',
    `    if (bereq.http.${INSTANCE_HEADER} == "${ident}" && !beresp.http.Cache-Control && !beresp.http.Expires) {`,
    `        set beresp.ttl = ${instance.cache.ttl};`,
    '    }',
    '}',
    '',
    ...(sticky ? stickyDelivery(ident) : []),
  ].join('\n');
}

/**
 * Sticky sessions, as HAProxy's `cookie SERVERID insert indirect nocache`
 * does it, but at the cache: the tier that picks web hosts (the balancer
 * picks cache hosts). A cookie that names a healthy web host sends the
 * request there; it is taken out of the request, so that the app never
 * sees it and Varnish still caches what has no other cookie. Hashing on
 * PHP's session cookie instead would send a browser's second request
 * elsewhere than its first, where the session was started.
 */
function stickyRecv(ident: string, hosts: string[]): string[] {
  const find = `(^|;\\s*)${STICKY_COOKIE}=`;
  return [
    `        unset req.http.${STICKY_HEADER};`,
    `        if (req.http.cookie ~ "${find}") {`,
    `            set req.http.${STICKY_HEADER} = regsub(req.http.cookie, "^(.*;\\s*)?${STICKY_COOKIE}=([^;]*).*$", "\\2");`,
    `            set req.http.cookie = regsub(regsuball(req.http.cookie, "${find}[^;]*", ""), "^;\\s*", "");`,
    '            if (req.http.cookie == "") {',
    '                unset req.http.cookie;',
    '            }',
    '        }',
    ...hosts.flatMap((h, n) => [
      `        ${n === 0 ? 'if' : '} elseif'} (req.http.${STICKY_HEADER} == "${h}" && std.healthy(b_${ident}_${h})) {`,
      `            set req.backend_hint = b_${ident}_${h};`,
    ]),
    '        }',
  ];
}

/**
 * The web host that answered, when the browser is not pinned to it yet (a
 * first request, or its host was down) and it was no cache hit, is named in
 * a response header that the balancer turns into the cookie: Varnish 7.1
 * cannot add a second Set-Cookie to one the app sent (its PHP session's).
 */
function stickyDelivery(ident: string): string[] {
  const mine = `bereq.http.${INSTANCE_HEADER} == "${ident}"`;
  return [
    'sub vcl_backend_fetch {',
    `    if (${mine}) {`,
    `        unset bereq.http.${STICKY_HEADER};`,
    '    }',
    '}',
    '',
    'sub vcl_backend_response {',
    `    if (${mine}) {`,
    `        set beresp.http.${STICKY_HEADER} = regsub(beresp.backend.name, "^b_${ident}_", "");`,
    '    }',
    '}',
    '',
    'sub vcl_deliver {',
    `    if (req.http.${INSTANCE_HEADER} == "${ident}") {`,
    `        if (obj.hits > 0 || resp.http.${STICKY_HEADER} == req.http.${STICKY_HEADER}) {`,
    `            unset resp.http.${STICKY_HEADER};`,
    '        }',
    '    }',
    '}',
    '',
  ];
}
