import type { ClusterConfig, HostConfig } from '../config/types.js';
import { interpolate } from '../interpolate.js';
import type { InstanceConfig } from '../manifest/types.js';
import { HEADER } from './apache.js';
import { fpmSocket, instanceId, instanceRoot, instanceStorage, logDir, unixUser } from './names.js';
import { sessionSavePath, UNKNOWN_PASSWORD } from './sessions.js';

/**
 * The PHP-FPM pool of one instance on one web host: its own unix user, its
 * own socket, a clean environment holding only the app's variables.
 * With a session store, `sessionPassword` is the instance's password there.
 */
export function renderPool(cluster: ClusterConfig, host: HostConfig, instance: InstanceConfig, sessionPassword?: string): string {
  const user = unixUser(instance);
  const logs = logDir(cluster.paths, instance);
  const root = instanceRoot(cluster.paths, instance);
  const env = Object.entries(instance.envTemplates).map(([key, template]) => {
    const result = interpolate(template, { host: host.name }, true);
    if ('error' in result) throw new Error(`env.${key}: ${result.error}`); // validated earlier: cannot happen
    return `env[${key}] = ${quoteIni(result.value)}`;
  });
  return [
    `; ${HEADER}`,
    `; app ${instance.app}, environment ${instance.env}, cluster ${cluster.name}, host ${host.name}`,
    `[magrathea.${instanceId(instance)}]`,
    `user = ${user}`,
    `group = ${user}`,
    `listen = ${fpmSocket(cluster.paths, instance)}`,
    `listen.owner = www-data`,
    `listen.group = www-data`,
    `listen.mode = 0660`,
    `pm = ondemand`,
    `pm.max_children = 10`,
    // Not FPM's 10 s: a request that reaches the pool while its last idle worker is being stopped for idleness waits,
    // unaccepted, until another connection comes (php-src issue 11765, seen here as a page hanging after a deploy);
    // a minute of idleness before that makes it rarer, for the memory of an idle worker kept 50 s longer.
    `pm.process_idle_timeout = 60s`,
    `pm.max_requests = 1000`,
    `catch_workers_output = yes`,
    `php_admin_flag[log_errors] = on`,
    `php_admin_value[error_log] = ${logs}/php-error.log`,
    // PHP opens files in its own instance (and its own directory of the cluster storage) only; its temporary files stay there.
    `php_admin_value[open_basedir] = ${root}/:${cluster.storage ? `${instanceStorage(cluster.storage, instance)}/:` : ''}/usr/share/php/:/dev/urandom`,
    ...sessionLines(cluster, instance, root, sessionPassword),
    // OPcache keyed by the real path: a file a new release did not change (hard-linked, its time kept) is compiled again
    // there, and __DIR__ in it names the new release. A redeploy then replaces this pool's workers, not PHP-FPM.
    'php_admin_flag[opcache.revalidate_path] = on',
    `php_admin_value[upload_tmp_dir] = ${root}/tmp`,
    `php_admin_value[sys_temp_dir] = ${root}/tmp`,
    `clear_env = yes`,
    `env[PATH] = /usr/local/bin:/usr/bin:/bin`,
    `env[TMPDIR] = ${root}/tmp`,
    ...env,
    '',
  ].join('\n');
}

/**
 * Where PHP keeps the instance's sessions: its cluster's store, logged in as
 * its own ACL user (the password is in this root-only file, nowhere else on
 * the host), or files in its own tmp/. Admin values: the app cannot move them.
 */
function sessionLines(cluster: ClusterConfig, instance: InstanceConfig, root: string, password: string | undefined): string[] {
  if (!cluster.sessions) return [`php_admin_value[session.save_path] = ${root}/tmp`];
  return [
    'php_admin_value[session.save_handler] = redis',
    `php_admin_value[session.save_path] = ${quoteIni(sessionSavePath(cluster.sessions, instance, password ?? UNKNOWN_PASSWORD))}`,
  ];
}

/**
 * Quotes a value for FPM's INI reader. Single-quoted segments are taken
 * literally (no `\\` escapes, no `${...}` expansion, both of which double
 * quotes have); runs of single quotes go in double quotes between them, and
 * FPM joins adjacent quoted segments: `it's` becomes `'it'"'"'s'`. Empty
 * segments are never written (FPM rejects `''"'"`), empty values are refused
 * by validation, and so are control characters.
 */
export function quoteIni(value: string): string {
  return (value.match(/'+|[^']+/g) ?? []).map((run) => (run.startsWith("'") ? `"${run}"` : `'${run}'`)).join('');
}
