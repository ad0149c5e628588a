import type { ClusterConfig, SessionStoreConfig } from '../config/types.js';
import { instanceId, type InstanceKey } from './names.js';

/**
 * Names and commands of an instance's PHP sessions in its cluster's store.
 * Instance ids hold only a-z, 0-9, `-` and one `.`: never a space, a quote,
 * nor a glob character, so they are safe in a key pattern and on a
 * redis-cli line.
 */

/** The instance's ACL user on the store. */
export function sessionUser(i: InstanceKey): string {
  return `magrathea.${instanceId(i)}`;
}

/** Every session key of the instance starts with it (phpredis' `prefix`); its ACL user reaches these keys only. */
export function sessionPrefix(i: InstanceKey): string {
  return `magrathea:${instanceId(i)}:`;
}

/**
 * What phpredis' session handler sends (seen on Redis 7 with MONITOR, with
 * strict mode, lazy writes, regeneration, destroy and GC): nothing else is
 * allowed. Not EVAL, which its optional locking needs to unlock: a script
 * runs alone in Redis, so one app's loop would stall every app's sessions.
 */
export const SESSION_COMMANDS = ['get', 'setex', 'expire', 'exists', 'del'] as const;

/** Written in place of a password the renderer was not given (`magrathea render`): a deploy always gives them all. */
export const UNKNOWN_PASSWORD = 'written-by-deploy';

/** phpredis' save path: `auth[]=USER&auth[]=PASSWORD` logs in as an ACL user (phpredis 5.3). */
export function sessionSavePath(store: SessionStoreConfig, i: InstanceKey, password: string): string {
  return `tcp://${store.address}:${store.port}?auth[]=${sessionUser(i)}&auth[]=${password}&prefix=${sessionPrefix(i)}`;
}

/**
 * redis-cli lines (its stdin, never its command line: they hold passwords)
 * that create or update each instance's ACL user, idempotently: `reset`
 * drops whatever the user had before, then it gets its password, its keys
 * and the handler's commands, no pub/sub channel.
 */
export function sessionUserCommands(instances: readonly InstanceKey[], passwords: Readonly<Record<string, string>>): string[] {
  return instances.map((i) => {
    const password = passwords[instanceId(i)];
    if (!password || !/^[A-Za-z0-9_-]{16,128}$/.test(password)) throw new Error(`no usable session password for ${instanceId(i)}`);
    return ['ACL', 'SETUSER', sessionUser(i), 'reset', 'on', `>${password}`, `~${sessionPrefix(i)}*`, 'resetchannels', '-@all', ...SESSION_COMMANDS.map((c) => `+${c}`)].join(' ');
  });
}

/**
 * redis-cli lines that remove an instance from the store: its user (whose
 * connections Redis closes), then its keys. The keys go in one script run
 * as the admin, which SCANs the prefix: key names are the app's to choose,
 * and a list of them handed through a shell could be split into another
 * app's key.
 */
export function sessionRemovalCommands(i: InstanceKey): string[] {
  const script = "local c = '0' local n = 0 repeat local r = redis.call('SCAN', c, 'MATCH', ARGV[1], 'COUNT', 1000) c = r[1] for _, k in ipairs(r[2]) do n = n + redis.call('UNLINK', k) end until c == '0' return n";
  return [`ACL DELUSER ${sessionUser(i)}`, `EVAL "${script}" 0 ${sessionPrefix(i)}*`];
}

/** The cookie that pins a browser to one web host when the cluster has no session store; its value is the host's name. */
export const STICKY_COOKIE = 'magrathea_web';

/** The web host a request is pinned to (cache) and the one that answered (cache to balancer). Never reaches a web host nor a client. */
export const STICKY_HEADER = 'X-Magrathea-Web';

/**
 * Whether browsers are pinned to one web host: without a store, PHP
 * sessions are files on each web host, so the host that started a session
 * must serve the rest of it.
 */
export function needsStickySessions(cluster: ClusterConfig): boolean {
  return !cluster.sessions && cluster.hosts.filter((h) => h.roles.includes('web')).length > 1;
}
