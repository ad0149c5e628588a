import type { ClusterConfig } from '../config/types.js';
import type { InstanceConfig } from '../manifest/types.js';
import { HEADER } from './apache.js';
import { instanceId, instanceIdent } from './names.js';
import { needsStickySessions, STICKY_COOKIE, STICKY_HEADER } from './sessions.js';

/** Set on each request by the instance that claims its Host; cleared first, so a client cannot set it. */
const INSTANCE_HEADER = 'X-Magrathea-Instance';

/** main.vcl: normalises Host, includes one file per instance, answers 404 for any other Host. */
export function renderMainVcl(instances: InstanceConfig[]): string {
  return [
    'vcl 4.1;',
    `# ${HEADER}`,
    '',
    'import std;',
    'import directors;',
    '',
    '# A VCL needs a backend even when no app is deployed yet; each app brings its own.',
    'backend magrathea_none none;',
    '',
    'sub vcl_recv {',
    `    unset req.http.${INSTANCE_HEADER};`,
    '    # Hosts are matched in lower case, without a port.',
    '    set req.http.host = std.tolower(regsub(req.http.host, ":[0-9]+$", ""));',
    '}',
    '',
    ...instances.map((i) => `include "./apps/${instanceId(i)}.vcl";`),
    '',
    '# A web host that fails (stopped, restarting) before its probe notices: try the next one once.',
    '# Only for requests that can be repeated.',
    'sub vcl_backend_error {',
    '    if (bereq.retries == 0 && (bereq.method == "GET" || bereq.method == "HEAD")) {',
    '        return (retry);',
    '    }',
    '}',
    '',
    '# Runs after every app\'s vcl_recv (VCL concatenates subroutines in order).',
    'sub vcl_recv {',
    `    if (!req.http.${INSTANCE_HEADER}) {`,
    '        return (synth(404, "No app serves this host"));',
    '    }',
    '}',
    '',
  ].join('\n');
}

/** apps/<app>.<env>.vcl: the instance's probe, one backend per web host, a round-robin director, its routing and caching rules. */
export function renderAppVcl(cluster: ClusterConfig, instance: InstanceConfig): string {
  const ident = instanceIdent(instance);
  const webHosts = cluster.hosts.filter((h) => h.roles.includes('web'));
  const sticky = needsStickySessions(cluster);
  const probeHost = instance.domains[0] ?? `${instanceId(instance)}.invalid`;
  const hostTest = instance.domains.map((d) => `req.http.host == "${d}"`).join(' || ') || 'false';
  return [
    `# ${HEADER}`,
    `# app ${instance.app}, environment ${instance.env}, cluster ${cluster.name}`,
    '',
    `probe p_${ident} {`,
    `    .request = "GET ${instance.health.path} HTTP/1.1" "Host: ${probeHost}" "User-Agent: magrathea-probe" "Connection: close";`,
    `    .expected_response = ${instance.health.status};`,
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
    `    if (${hostTest}) {`,
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
