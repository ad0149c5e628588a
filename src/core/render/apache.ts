import type { ClusterConfig } from '../../config/types.js';
import type { InstanceConfig } from '../manifest/types.js';
import { fpmSocket, instanceId, instanceRoot, logDir } from './names.js';

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
    `        Options -Indexes +FollowSymLinks`,
    `        AllowOverride All`,
    `        Require all granted`,
    `    </Directory>`,
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
