import type { ClusterConfig } from '../config/types.js';
import type { InstanceConfig } from '../manifest/types.js';
import { fpmSocket, instanceId, instanceRoot, logDir, PROBE_PATH, probeFile } from './names.js';

/**
 * What an app's .htaccess may say beyond AllowOverride's AuthConfig and
 * Limit classes: what WordPress, Laravel, Symfony and Drupal ship, and no
 * directive that picks a handler (SetHandler, AddHandler, Action), sets
 * environment variables (SetEnv, SetEnvIf: PHP_VALUE reaches PHP-FPM) or
 * proxies. A directive outside the list answers 500 and names itself in
 * the instance's error log.
 */
export const HTACCESS_DIRECTIVES = [
  'RewriteEngine', 'RewriteBase', 'RewriteCond', 'RewriteRule', 'RewriteOptions',
  'Redirect', 'RedirectMatch', 'RedirectPermanent', 'RedirectTemp',
  'DirectoryIndex', 'DirectorySlash', 'ErrorDocument', 'FileETag',
  'Header', 'ExpiresActive', 'ExpiresByType', 'ExpiresDefault',
  'AddType', 'AddCharset', 'AddDefaultCharset', 'AddEncoding', 'AddLanguage', 'DefaultLanguage', 'RemoveType',
  'AddOutputFilterByType',
] as const;

export const HEADER = 'Managed by Magrathea: every change here is overwritten by the next deploy.';

/**
 * The Apache vhost of one instance, for every web host of its cluster.
 * PHP goes to the instance's own FPM pool; the client address is taken from
 * X-Forwarded-For only when the request comes from this cluster's cache or
 * balancer hosts. Every value here was validated (names, domains, safe
 * paths), so double quotes are enough.
 */
export function renderVhost(cluster: ClusterConfig, instance: InstanceConfig): string {
  const id = instanceId(instance);
  const current = `${instanceRoot(cluster.paths, instance)}/current`;
  const docroot = instance.docroot === '.' ? current : `${current}/${instance.docroot}`;
  const logs = logDir(cluster.paths, instance);
  const proxies = [...new Set(cluster.hosts.filter((h) => h.roles.includes('cache') || h.roles.includes('balancer')).map((h) => h.address))];
  const [primary, ...aliases] = instance.domains.length > 0 ? instance.domains : [`${id}.invalid`];
  return [
    `# ${HEADER}`,
    `# app ${instance.app}, environment ${instance.env}, cluster ${cluster.name}`,
    `<VirtualHost *:${cluster.ports.web}>`,
    `    ServerName ${primary}`,
    ...aliases.map((d) => `    ServerAlias ${d}`),
    `    DocumentRoot "${docroot}"`,
    `    DirectoryIndex index.php index.html`,
    '',
    `    RemoteIPHeader X-Forwarded-For`,
    ...proxies.map((a) => `    RemoteIPTrustedProxy ${a}`),
    '',
    `    <Directory "${docroot}">`,
    `        # Links are followed only to what their owner owns: an app's link into another app's tree is not.`,
    `        Options -Indexes +SymLinksIfOwnerMatch`,
    `        # .htaccess may rewrite, redirect, set headers, types, caching and access; never pick a handler,`,
    `        # set environment variables, proxy or PHP settings (another app's pool, PHP_VALUE).`,
    `        AllowOverride AuthConfig Limit Options=Indexes,MultiViews,SymLinksIfOwnerMatch`,
    `        AllowOverrideList ${HTACCESS_DIRECTIVES.join(' ')}`,
    `        Require all granted`,
    `    </Directory>`,
    `    # PHP settings never come from the request side (a RewriteRule's E= flag): only the pool's count.`,
    `    ProxyFCGISetEnvIf "true" !PHP_VALUE`,
    `    ProxyFCGISetEnvIf "true" !PHP_ADMIN_VALUE`,
    `    # Varnish's probe: a static file, so that probes start no PHP worker (idle pools stay empty).`,
    `    Alias "${PROBE_PATH}" "${probeFile(cluster.paths)}"`,
    `    <Location "${PROBE_PATH}">`,
    `        Require all granted`,
    `    </Location>`,
    `    # Dot files (.env, .git) are never served; .well-known is.`,
    `    <FilesMatch "^\\.(?!well-known$)">`,
    `        Require all denied`,
    `    </FilesMatch>`,
    `    <FilesMatch "\\.php$">`,
    `        SetHandler "proxy:unix:${fpmSocket(cluster.paths, instance)}|fcgi://magrathea.${id}"`,
    `    </FilesMatch>`,
    '',
    `    ErrorLog "${logs}/error.log"`,
    `    CustomLog "${logs}/access.log" "%a %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\" %D"`,
    `</VirtualHost>`,
    '',
  ].join('\n');
}
