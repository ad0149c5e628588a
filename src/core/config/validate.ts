import { Reader } from '../reader.js';
import { YamlSource, type Problem } from '../source.js';
import { checkBranch, checkDomain, checkDuration, checkName, durationSeconds, show, type Check } from '../values.js';
import {
  REQUIRED_ROLES,
  ROLES,
  VERBS,
  type AccountingSettings,
  type BackupSettings,
  type BuildSettings,
  type ClusterCommands,
  type ClusterConfig,
  type IspconfigConfig,
  type ClusterPaths,
  type DatabaseConfig,
  type GatewayConfig,
  type GatewaySettings,
  type HostConfig,
  type LimitsSettings,
  type Quota,
  type SessionStoreConfig,
  type UserConfig,
} from './types.js';

/** The files of a gateway configuration directory, by name, as text. Absent files are absent keys. */
export interface GatewayConfigFiles {
  'gateway.yml'?: string;
  'clusters.yml'?: string;
  'users.yml'?: string;
}

export const DEFAULT_PATHS: ClusterPaths = {
  apps: '/var/www/magrathea',
  logs: '/var/log/magrathea',
  apache: '/etc/apache2/magrathea.d',
  fpm: '/etc/php/{php}/fpm/pool.d',
  fpmSockets: '/run/php',
  varnish: '/etc/varnish/magrathea',
  haproxy: '/etc/haproxy/magrathea.d',
};

/** Where a session store's admin password is, on the store's host, unless clusters.yml says otherwise. */
export const DEFAULT_SESSIONS = { port: 6379, adminUser: 'default', passwordFile: '/etc/magrathea/sessions.password' } as const;

/** Where a cluster's database server listens unless `ports.db` says otherwise: MariaDB's and MySQL's own default. */
export const DEFAULT_DB_PORT = 3306;

/** Commands for a Debian/Ubuntu host run by systemd. The lab's configuration replaces them. */
export const DEFAULT_COMMANDS: ClusterCommands = {
  apache: { check: ['apache2ctl', '-t'], reload: ['apache2ctl', 'graceful'] },
  // -n: no php.ini, so no extension loaded: the pools' check needs none, and they were two thirds of its CPU time.
  fpm: { check: ['php-fpm{php}', '-n', '-t'], reload: ['systemctl', 'reload', 'php{php}-fpm'] },
  varnish: { check: ['varnishd', '-C', '-n', '{tmp}', '-f', '{file}'], admin: ['varnishadm'] },
  haproxy: { check: ['haproxy', '-c', '-f', '/etc/haproxy/haproxy.cfg', '-f', '{dir}'], reload: ['systemctl', 'reload', 'haproxy'] },
};

const PLACEHOLDERS = ['{php}', '{file}', '{dir}', '{tmp}'];

/**
 * Validates the text of every file of a gateway configuration directory.
 * Pure: the loader reads the files, this reads the text. Returns the config,
 * or every problem found, each as `file:line:col`.
 */
export function validateGatewayConfig(dir: string, files: GatewayConfigFiles): { config: GatewayConfig } | { problems: Problem[] } {
  const problems: Problem[] = [];
  const parse = (name: keyof GatewayConfigFiles, required: boolean): Reader | undefined => {
    const text = files[name];
    const file = `${dir}/${name}`;
    if (text === undefined) {
      if (required) problems.push({ file, line: 1, col: 1, path: '', message: `missing: the gateway configuration needs ${name}` });
      return undefined;
    }
    const parsed = YamlSource.parse(file, text);
    if ('problems' in parsed) {
      problems.push(...parsed.problems);
      return undefined;
    }
    return new Reader(parsed.source);
  };

  const gatewayReader = parse('gateway.yml', false);
  const clustersReader = parse('clusters.yml', true);
  const usersReader = parse('users.yml', false);

  const gateway = readGateway(gatewayReader);
  const clusters = clustersReader ? readClusters(clustersReader) : {};
  const users = usersReader ? readUsers(usersReader) : {};
  for (const reader of [gatewayReader, clustersReader, usersReader]) if (reader) problems.push(...reader.problems);

  if (problems.length > 0) return { problems };
  return { config: { dir, gateway, clusters, users } };
}

function readGateway(r: Reader | undefined): GatewaySettings {
  const settings: GatewaySettings = {
    stateDir: '/var/lib/magrathea',
    defaultBranch: 'master',
    keepReleases: 5,
    releaseHookTimeoutSeconds: 600,
    listen: { ssh: '0.0.0.0:2222', http: '127.0.0.1:5000' },
    httpUrl: '',
    ssh: { identity: '', knownHosts: '', masterIdleSeconds: 60 },
    accounting: { ...DEFAULT_ACCOUNTING, quotas: { default: {}, apps: {} } },
    backups: { ...DEFAULT_BACKUPS },
    limits: defaultLimits(),
    builds: { ...DEFAULT_BUILDS },
  };
  const sshDefaults = (): GatewaySettings => {
    settings.ssh.identity ||= `${settings.stateDir}/ssh/id_ed25519`;
    settings.ssh.knownHosts ||= `${settings.stateDir}/ssh/known_hosts`;
    settings.httpUrl ||= `http://${settings.listen.http.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}`;
    return settings;
  };
  if (!r || r.at([]) === '' || r.at([]) === undefined) return sshDefaults();
  r.map([], ['state_dir', 'default_branch', 'keep_releases', 'release_hook_timeout', 'listen', 'http_url', 'ssh', 'accounting', 'backups', 'limits', 'builds']);
  settings.stateDir = r.string(['state_dir'], checkAbsolutePath) ?? settings.stateDir;
  r.map(['ssh'], ['identity', 'known_hosts', 'master_idle']);
  settings.ssh.identity = r.string(['ssh', 'identity'], checkAbsolutePath) ?? '';
  settings.ssh.knownHosts = r.string(['ssh', 'known_hosts'], checkAbsolutePath) ?? '';
  settings.ssh.masterIdleSeconds = readDuration(r, ['ssh', 'master_idle'], 0, 3600, 'the SSH master idle time must be from 0s to 1h') ?? settings.ssh.masterIdleSeconds;
  settings.defaultBranch = r.string(['default_branch'], checkBranch) ?? settings.defaultBranch;
  settings.keepReleases = r.integer(['keep_releases'], 2, 100) ?? settings.keepReleases;
  settings.releaseHookTimeoutSeconds = readDuration(r, ['release_hook_timeout'], 1, 86400, 'the release hook timeout must be from 1s to 1d') ?? settings.releaseHookTimeoutSeconds;
  r.map(['listen'], ['ssh', 'http']);
  settings.listen.ssh = r.string(['listen', 'ssh'], checkListen) ?? settings.listen.ssh;
  settings.listen.http = r.string(['listen', 'http'], checkListen) ?? settings.listen.http;
  settings.httpUrl = (r.string(['http_url'], checkHttpUrl) ?? '').replace(/\/$/, '');
  settings.accounting = readAccounting(r);
  settings.backups = readBackups(r);
  settings.limits = readLimits(r);
  settings.builds = readBuilds(r);
  return sshDefaults();
}

/** A duration (`10m`) at path, in seconds, from min to max; `what` says the range when it is out of it. */
function readDuration(r: Reader, path: string[], min: number, max: number, what: string): number | undefined {
  const text = r.string(path, (v) => {
    const problem = checkDuration(v);
    if (problem) return problem;
    const seconds = durationSeconds(v);
    return seconds < min || seconds > max ? `${show(v)}: ${what}` : undefined;
  });
  return text === undefined ? undefined : durationSeconds(text);
}

export const DEFAULT_LIMITS: LimitsSettings = {
  ssh: { authTimeoutSeconds: 10, connections: 1000, connectionsPerAddress: 50, channelsPerConnection: 10 },
  http: { requestTimeoutSeconds: 30, idleTimeoutSeconds: 5, connections: 1000, streamsPerToken: 4, requestsPerMinute: 600 },
  logsFollowPerUser: 4,
};

function defaultLimits(): LimitsSettings {
  return { ssh: { ...DEFAULT_LIMITS.ssh }, http: { ...DEFAULT_LIMITS.http }, logsFollowPerUser: DEFAULT_LIMITS.logsFollowPerUser };
}

function readLimits(r: Reader): LimitsSettings {
  const limits = defaultLimits();
  r.map(['limits'], ['ssh', 'http', 'logs_follow_per_user'], 'limits (ssh, http, logs_follow_per_user)');
  r.map(['limits', 'ssh'], ['auth_timeout', 'connections', 'connections_per_address', 'channels_per_connection'], 'SSH limits (auth_timeout, connections, connections_per_address, channels_per_connection)');
  r.map(['limits', 'http'], ['request_timeout', 'idle_timeout', 'connections', 'streams_per_token', 'requests_per_minute'], 'HTTP limits (request_timeout, idle_timeout, connections, streams_per_token, requests_per_minute)');
  const seconds = (at: string[], min: number, max: number, range: string): number | undefined => readDuration(r, at, min, max, `must be from ${range}`);
  const count = (at: string[], max: number) => r.integer(at, 1, max);
  limits.ssh.authTimeoutSeconds = seconds(['limits', 'ssh', 'auth_timeout'], 1, 600, '1s to 10m') ?? limits.ssh.authTimeoutSeconds;
  limits.ssh.connections = count(['limits', 'ssh', 'connections'], 100_000) ?? limits.ssh.connections;
  limits.ssh.connectionsPerAddress = count(['limits', 'ssh', 'connections_per_address'], 100_000) ?? limits.ssh.connectionsPerAddress;
  limits.ssh.channelsPerConnection = count(['limits', 'ssh', 'channels_per_connection'], 1000) ?? limits.ssh.channelsPerConnection;
  limits.http.requestTimeoutSeconds = seconds(['limits', 'http', 'request_timeout'], 1, 3600, '1s to 1h') ?? limits.http.requestTimeoutSeconds;
  limits.http.idleTimeoutSeconds = seconds(['limits', 'http', 'idle_timeout'], 1, 600, '1s to 10m') ?? limits.http.idleTimeoutSeconds;
  limits.http.connections = count(['limits', 'http', 'connections'], 100_000) ?? limits.http.connections;
  limits.http.streamsPerToken = count(['limits', 'http', 'streams_per_token'], 1000) ?? limits.http.streamsPerToken;
  limits.http.requestsPerMinute = count(['limits', 'http', 'requests_per_minute'], 1_000_000) ?? limits.http.requestsPerMinute;
  limits.logsFollowPerUser = count(['limits', 'logs_follow_per_user'], 1000) ?? limits.logsFollowPerUser;
  return limits;
}

export const DEFAULT_BUILDS: BuildSettings = { network: 'allow', stepTimeoutSeconds: 600, maxPushSize: 500 * 1024 ** 2, maxReleaseSize: 2 * 1024 ** 3, maxProcesses: 512, maxMemory: 4 * 1024 ** 3 };

function readBuilds(r: Reader): BuildSettings {
  const at = ['builds'];
  r.map(at, ['network', 'step_timeout', 'max_push_size', 'max_release_size', 'max_processes', 'max_memory'], 'build settings (network, step_timeout, max_push_size, max_release_size, max_processes, max_memory)');
  const network = r.string([...at, 'network'], (v) => (v === 'allow' || v === 'deny' ? undefined : `${show(v)} is not one of: allow, deny`));
  const timeout = readDuration(r, [...at, 'step_timeout'], 1, 86400, "a build step's time limit must be from 1s to 1d");
  const size = (key: string): number | undefined => {
    const text = r.string([...at, key], checkSize);
    return text === undefined ? undefined : sizeBytes(text);
  };
  return {
    network: (network as BuildSettings['network'] | undefined) ?? DEFAULT_BUILDS.network,
    stepTimeoutSeconds: timeout ?? DEFAULT_BUILDS.stepTimeoutSeconds,
    maxPushSize: size('max_push_size') ?? DEFAULT_BUILDS.maxPushSize,
    maxReleaseSize: size('max_release_size') ?? DEFAULT_BUILDS.maxReleaseSize,
    maxProcesses: r.integer([...at, 'max_processes'], 16, 100_000) ?? DEFAULT_BUILDS.maxProcesses,
    maxMemory: size('max_memory') ?? DEFAULT_BUILDS.maxMemory,
  };
}

export const DEFAULT_ACCOUNTING: Omit<AccountingSettings, 'quotas'> = { intervalSeconds: 300, retentionSeconds: 90 * 86400 };

function readAccounting(r: Reader): AccountingSettings {
  const at = ['accounting'];
  r.map(at, ['interval', 'retention', 'quotas'], 'accounting settings (interval, retention, quotas)');
  const duration = (key: string, min: number, max: number, what: string): number | undefined => readDuration(r, [...at, key], min, max, what);
  const quotas: AccountingSettings['quotas'] = { default: {}, apps: {} };
  r.map([...at, 'quotas'], ['default', 'apps'], 'quotas (default, apps)');
  quotas.default = readQuota(r, [...at, 'quotas', 'default']);
  for (const app of r.dict([...at, 'quotas', 'apps'], checkName, 'a map of app names to quotas')) quotas.apps[app] = readQuota(r, [...at, 'quotas', 'apps', app]);
  return {
    intervalSeconds: duration('interval', 10, 86400, 'the interval must be from 10s to 1d') ?? DEFAULT_ACCOUNTING.intervalSeconds,
    retentionSeconds: duration('retention', 86400, 10 * 365 * 86400, 'the retention must be from 1d to 10y') ?? DEFAULT_ACCOUNTING.retentionSeconds,
    quotas,
  };
}

export const DEFAULT_BACKUPS: BackupSettings = { keep: 7 };

function readBackups(r: Reader): BackupSettings {
  r.map(['backups'], ['keep', 'schedule'], 'backup settings (keep, schedule)');
  const keep = r.integer(['backups', 'keep'], 1, 1000);
  const schedule = readDuration(r, ['backups', 'schedule'], 60, 366 * 86400, 'the backup schedule must be from 1m to 366d');
  return { keep: keep ?? DEFAULT_BACKUPS.keep, ...(schedule !== undefined ? { scheduleSeconds: schedule } : {}) };
}

function readQuota(r: Reader, at: (string | number)[]): Quota {
  r.map(at, ['disk', 'traffic'], 'a quota (disk, traffic)');
  const quota: Quota = {};
  const disk = r.string([...at, 'disk'], checkSize);
  const traffic = r.string([...at, 'traffic'], checkSize);
  if (disk !== undefined) quota.disk = sizeBytes(disk);
  if (traffic !== undefined) quota.traffic = sizeBytes(traffic);
  return quota;
}

/** A size: a whole number of bytes, or of K, M, G or T (powers of 1024): `512M`, `20G`, `1T`. */
const checkSize: Check = (v) => (/^[1-9][0-9]{0,8}[KMGT]?$/.test(v) ? undefined : `${show(v)} is not a size: a whole number and K, M, G or T (powers of 1024), like 20G`);

function sizeBytes(v: string): number {
  const unit = { K: 1, M: 2, G: 3, T: 4 }[v.slice(-1)] ?? 0;
  return Number(unit ? v.slice(0, -1) : v) * 1024 ** unit;
}

function readClusters(r: Reader): Record<string, ClusterConfig> {
  const clusters: Record<string, ClusterConfig> = {};
  if (r.at([]) === '' || r.at([]) === undefined) {
    r.fail([], 'no clusters: declare at least one cluster with its hosts');
    return clusters;
  }
  for (const name of r.dict([], checkName, 'a map of cluster names to clusters')) {
    const cluster = readCluster(r, name);
    if (cluster) clusters[name] = cluster;
  }
  return clusters;
}

function readCluster(r: Reader, name: string): ClusterConfig | undefined {
  const at = [name];
  if (!r.map(at, ['edge', 'ports', 'ssh', 'hosts', 'paths', 'commands', 'storage', 'sessions', 'ispconfig'], 'a cluster (hosts, ports, paths, commands, storage, sessions, ispconfig)')) {
    if (!r.has(at)) r.fail(at, 'a cluster needs hosts');
    return undefined;
  }
  r.map([...at, 'ports'], ['web', 'cache', 'balancer', 'db']);
  const ports = {
    web: r.integer([...at, 'ports', 'web'], 1, 65535) ?? 80,
    cache: r.integer([...at, 'ports', 'cache'], 1, 65535) ?? 6081,
    balancer: r.integer([...at, 'ports', 'balancer'], 1, 65535) ?? 80,
    db: r.integer([...at, 'ports', 'db'], 1, 65535) ?? DEFAULT_DB_PORT,
  };
  r.map([...at, 'ssh'], ['user', 'port']);
  const ssh = {
    user: r.string([...at, 'ssh', 'user'], checkUnixUser) ?? 'root',
    port: r.integer([...at, 'ssh', 'port'], 1, 65535) ?? 22,
  };

  const hosts: HostConfig[] = [];
  if (!r.has([...at, 'hosts'])) r.fail(at, 'missing required key "hosts"');
  const seenAddresses = new Map<string, string>();
  for (const hostName of r.dict([...at, 'hosts'], checkName, 'a map of host names to hosts')) {
    const h = [...at, 'hosts', hostName];
    if (!r.map(h, ['address', 'roles', 'ssh', 'egress'], 'a host (address, roles)')) {
      r.fail(h, 'a host needs an address and roles');
      continue;
    }
    const address = r.required([...h, 'address'], checkIpv4);
    const roles = r.list([...h, 'roles'], (v) => (ROLES.includes(v as never) ? undefined : `${show(v)} is not a role; roles are: ${ROLES.join(', ')}`), ROLES.length);
    if (!r.has([...h, 'roles'])) r.fail(h, 'missing required key "roles" (web, cache, balancer, sessions, db)');
    r.map([...h, 'ssh'], ['user', 'port']);
    const hostSsh = {
      user: r.string([...h, 'ssh', 'user'], checkUnixUser) ?? ssh.user,
      port: r.integer([...h, 'ssh', 'port'], 1, 65535) ?? ssh.port,
    };
    if (address === undefined || roles === undefined) continue;
    const other = seenAddresses.get(`${address}:${hostSsh.port}`);
    if (other) r.fail([...h, 'address'], `${address} is also the address of host ${show(other)}`);
    seenAddresses.set(`${address}:${hostSsh.port}`, hostName);
    const egress = r.string([...h, 'egress'], checkIpv4);
    hosts.push({ name: hostName, address, ssh: hostSsh, roles: [...new Set(roles)] as HostConfig['roles'], ...(egress !== undefined ? { egress } : {}) });
  }
  for (const role of REQUIRED_ROLES) {
    if (hosts.length > 0 && !hosts.some((host) => host.roles.includes(role))) {
      r.fail([...at, 'hosts'], `cluster ${show(name)} has no host with the role ${show(role)}; every cluster needs web, cache and balancer hosts (one host may have several roles)`);
    }
  }

  r.map([...at, 'paths'], ['apps', 'logs', 'apache', 'fpm', 'fpm_sockets', 'varnish', 'haproxy']);
  const p = (key: string): string | undefined => r.string([...at, 'paths', key], checkAbsolutePath);
  const paths: ClusterPaths = {
    apps: p('apps') ?? DEFAULT_PATHS.apps,
    logs: p('logs') ?? DEFAULT_PATHS.logs,
    apache: p('apache') ?? DEFAULT_PATHS.apache,
    fpm: p('fpm') ?? DEFAULT_PATHS.fpm,
    fpmSockets: p('fpm_sockets') ?? DEFAULT_PATHS.fpmSockets,
    varnish: p('varnish') ?? DEFAULT_PATHS.varnish,
    haproxy: p('haproxy') ?? DEFAULT_PATHS.haproxy,
  };

  r.map([...at, 'commands'], ['apache', 'fpm', 'varnish', 'haproxy']);
  const c = at.concat('commands');
  const argv = (service: string, key: string, fallback: string[]): string[] => {
    r.map([...c, service], service === 'varnish' ? ['check', 'admin'] : ['check', 'reload']);
    const value = r.list([...c, service, key], checkArgvItem, 50);
    if (value !== undefined && value.length === 0) return r.fail([...c, service, key], 'a command needs at least the program name') ?? fallback;
    return value ?? fallback;
  };
  const commands: ClusterCommands = {
    apache: { check: argv('apache', 'check', DEFAULT_COMMANDS.apache.check), reload: argv('apache', 'reload', DEFAULT_COMMANDS.apache.reload) },
    fpm: { check: argv('fpm', 'check', DEFAULT_COMMANDS.fpm.check), reload: argv('fpm', 'reload', DEFAULT_COMMANDS.fpm.reload) },
    varnish: { check: argv('varnish', 'check', DEFAULT_COMMANDS.varnish.check), admin: argv('varnish', 'admin', DEFAULT_COMMANDS.varnish.admin) },
    haproxy: { check: argv('haproxy', 'check', DEFAULT_COMMANDS.haproxy.check), reload: argv('haproxy', 'reload', DEFAULT_COMMANDS.haproxy.reload) },
  };

  const balancer = hosts.find((host) => host.roles.includes('balancer'));
  const defaultEdge = balancer ? `http://${balancer.address}${ports.balancer === 80 ? '' : `:${ports.balancer}`}` : '';
  const edge = r.string([...at, 'edge'], checkHttpUrl) ?? defaultEdge;
  const storage = r.string([...at, 'storage'], (v) => checkStorage(v, paths));
  const sessions = readSessionStore(r, at, hosts);
  const db = readDatabase(r, at, hosts, ports.db);
  const ispconfig = readIspconfig(r, at, db);
  return {
    name,
    edge,
    ports,
    hosts,
    paths,
    commands,
    ...(storage === undefined ? {} : { storage: storage.replace(/\/$/, '') }),
    ...(sessions ? { sessions } : {}),
    ...(db ? { db } : {}),
    ...(ispconfig ? { ispconfig } : {}),
  };
}

export const DEFAULT_ISPCONFIG_WAIT_SECONDS = 90;

/**
 * The panel that manages the cluster: where its remote API answers, as
 * whom (the password in a file of its own, never here), for which of its
 * clients, and which of its servers is the db host. The panel makes the
 * databases on the db host: a panel without one has nothing to do.
 */
function readIspconfig(r: Reader, at: string[], db: DatabaseConfig | undefined): IspconfigConfig | undefined {
  const p = [...at, 'ispconfig'];
  if (!r.has(p)) return undefined;
  if (!r.map(p, ['url', 'user', 'password', 'password_file', 'client', 'server_id', 'wait'], 'the cluster\'s ISPConfig panel (url, user, password_file, client, server_id, wait)')) return undefined;
  if (r.has([...p, 'password'])) r.fail([...p, 'password'], 'no password in clusters.yml: put it in a root-only file (mode 600) and name that file in password_file', 'key');
  const url = r.required([...p, 'url'], checkPanelUrl);
  const user = r.required([...p, 'user'], (v) => (/^[A-Za-z0-9_.@-]{1,64}$/.test(v) ? undefined : `${show(v)} is not a remote user name of the panel (1 to 64 of A-Z, a-z, 0-9, _ . @ -)`));
  const passwordFile = r.required([...p, 'password_file'], checkAbsolutePath);
  const client = r.required([...p, 'client'], (v) => (/^[A-Za-z0-9_.@-]{1,64}$/.test(v) ? undefined : `${show(v)} is neither a client's login name nor its id in the panel`));
  const serverId = r.integer([...p, 'server_id'], 1, 1_000_000);
  const wait = readDuration(r, [...p, 'wait'], 1, 3600, 'wait');
  if (!db) r.fail(p, `cluster ${show(at[0]!)} has no host of role "db": the panel makes its databases there, give the role to the panel's database server`);
  if (url === undefined || user === undefined || passwordFile === undefined || client === undefined || !db) return undefined;
  return { url, user, passwordFile, password: '', client, ...(serverId === undefined ? {} : { serverId }), waitSeconds: wait ?? DEFAULT_ISPCONFIG_WAIT_SECONDS };
}

/** The remote API's URL: http(s), a host, a port, a path (…/remote/json.php); no credentials or query in it. */
const checkPanelUrl: Check = (v) =>
  /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~/-]*)?$/.test(v) ? undefined : `${show(v)} is not the URL of the panel's remote API, like https://panel.example.com:8080/remote/json.php (no credentials, no query)`;

/** The database server: the one host of role `db`, if any. One per cluster: Magrathea does not pick between servers. */
function readDatabase(r: Reader, at: string[], hosts: HostConfig[], port: number): DatabaseConfig | undefined {
  const servers = hosts.filter((h) => h.roles.includes('db'));
  for (const extra of servers.slice(1)) {
    r.fail([...at, 'hosts', extra.name, 'roles'], `host ${show(servers[0]!.name)} is already the database server of cluster ${show(at[0]!)}; a cluster has one host of role "db"`);
  }
  const server = servers[0];
  return server ? { host: server.name, address: server.address, port } : undefined;
}

/**
 * The session store: the one host of role `sessions`, with `sessions:`
 * (port, admin user, admin password file) or its defaults. One store per
 * cluster: Magrathea does not replicate sessions between stores.
 */
function readSessionStore(r: Reader, at: string[], hosts: HostConfig[]): SessionStoreConfig | undefined {
  const stores = hosts.filter((h) => h.roles.includes('sessions'));
  for (const extra of stores.slice(1)) {
    r.fail([...at, 'hosts', extra.name, 'roles'], `host ${show(stores[0]!.name)} is already the session store of cluster ${show(at[0]!)}; a cluster has one session store`);
  }
  const s = [...at, 'sessions'];
  r.map(s, ['port', 'user', 'password_file'], 'a session store (port, user, password_file)');
  const port = r.integer([...s, 'port'], 1, 65535) ?? DEFAULT_SESSIONS.port;
  const adminUser = r.string([...s, 'user'], checkRedisUser) ?? DEFAULT_SESSIONS.adminUser;
  const passwordFile = r.string([...s, 'password_file'], checkAbsolutePath) ?? DEFAULT_SESSIONS.passwordFile;
  const store = stores[0];
  if (!store) {
    if (r.has(s)) r.fail(s, `no host of cluster ${show(at[0]!)} has the role "sessions": give it to the host that runs the session store`);
    return undefined;
  }
  return { host: store.name, address: store.address, port, adminUser, passwordFile };
}

/** A Redis ACL user name, as it goes on redis-cli's command line: no spaces, quotes or glob characters. */
const checkRedisUser: Check = (v) => (/^[A-Za-z0-9_.-]{1,64}$/.test(v) ? undefined : `${show(v)} is not a Redis user name (1 to 64 of A-Z, a-z, 0-9, _ . -)`);

function readUsers(r: Reader): Record<string, UserConfig> {
  const users: Record<string, UserConfig> = {};
  const keyOwners = new Map<string, string>();
  for (const name of r.dict([], checkName, 'a map of user names to users')) {
    const at = [name];
    if (!r.map(at, ['role', 'keys', 'apps', 'verbs', 'clusters', 'domains'], 'a user (role, keys, apps, verbs, clusters, domains)')) {
      r.fail(at, 'a user needs a role and keys');
      continue;
    }
    const role = r.oneOf([...at, 'role'], ['admin', 'member'] as const);
    if (!r.has([...at, 'role'])) r.fail(at, 'missing required key "role" (admin or member)');
    const keys = r.list([...at, 'keys'], checkPublicKey, 50) ?? [];
    if (!r.has([...at, 'keys'])) r.fail(at, 'missing required key "keys" (OpenSSH public keys)');
    keys.forEach((key, i) => {
      const blob = key.split(' ')[1]!;
      const owner = keyOwners.get(blob);
      if (owner) r.fail([...at, 'keys', i], `this key is already the key of user ${show(owner)}; a key identifies one user`);
      keyOwners.set(blob, name);
    });
    const apps = r.list([...at, 'apps'], checkAppGlob, 200) ?? [];
    const verbs = (r.list([...at, 'verbs'], (v) => (VERBS.includes(v as never) ? undefined : `${show(v)} is not a verb; verbs are: ${VERBS.join(', ')}`), 10) ??
      (role === 'admin' ? [...VERBS] : [])) as UserConfig['verbs'];
    const clusters = r.list([...at, 'clusters'], checkAppGlob, 200) ?? [];
    const domains = r.list([...at, 'domains'], checkDomainPattern, 200) ?? [];
    if (role === undefined) continue;
    users[name] = role === 'admin'
      ? { name, role, keys, apps: ['*'], verbs: [...VERBS], clusters: ['*'], domains: ['*'] }
      : { name, role, keys, apps, verbs, clusters, domains };
  }
  return users;
}

const checkAbsolutePath: Check = (v) =>
  /^(\/[A-Za-z0-9._{}-]+)+\/?$/.test(v) && !v.split('/').some((s) => s === '..' || s === '.')
    ? undefined
    : `${show(v)} is not an absolute path of safe characters (a-z, A-Z, 0-9, . _ - /)`;

/**
 * The cluster's shared storage: an absolute path of its own. Inside (or
 * around) a tree Magrathea owns on the hosts, files of the apps would mix
 * with releases, logs or configs, and a purge of one would take the other.
 */
function checkStorage(v: string, paths: ClusterPaths): string | undefined {
  const problem = checkAbsolutePath(v);
  if (problem) return problem;
  if (v.includes('{') || v.includes('}')) return `${show(v)}: storage takes no placeholder`;
  const path = v.replace(/\/$/, '');
  if (path.split('/').length < 3) return `${show(v)}: storage must be a directory below a top-level one (like /srv/magrathea), not ${path}`;
  for (const [key, owned] of Object.entries(paths)) {
    const dir = owned.replace(/\/$/, '').replace(/\/[^/]*\{php\}.*$/, '');
    if (path === dir || path.startsWith(`${dir}/`) || dir.startsWith(`${path}/`)) {
      return `${show(v)}: storage may not lie inside or around paths.${key === 'fpmSockets' ? 'fpm_sockets' : key} (${owned}): apps' files would mix with the files Magrathea manages there`;
    }
  }
  return undefined;
}

const checkUnixUser: Check = (v) => (/^[a-z_][a-z0-9_-]{0,31}$/.test(v) ? undefined : `${show(v)} is not a valid unix user name`);

export const checkIpv4: Check = (v) => {
  const parts = v.split('.');
  const ok = parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
  return ok ? undefined : `${show(v)} is not an IPv4 address; hosts are named by address (it is written into Varnish, HAProxy and Apache configs, where a DNS name would be resolved only at start)`;
};

const checkListen: Check = (v) => {
  const match = /^(.+):([0-9]{1,5})$/.exec(v);
  if (!match || checkIpv4(match[1]!) !== undefined || Number(match[2]) > 65535) return `${show(v)} is not an address:port like 127.0.0.1:2222`;
  return undefined;
};

const checkHttpUrl: Check = (v) => (/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?\/?$/.test(v) ? undefined : `${show(v)} is not a URL like http://cluster-a.example.net`);

const checkArgvItem: Check = (v) => {
  if (v.length === 0 || v.length > 500) return 'a command argument must be 1 to 500 characters';
  if (/[\u0000-\u001f\u007f]/.test(v)) return `${show(v)}: a command argument may not contain control characters`;
  for (const placeholder of v.match(/\{[^}]*\}/g) ?? []) {
    if (!PLACEHOLDERS.includes(placeholder)) return `${show(placeholder)} is not a placeholder; known ones: ${PLACEHOLDERS.join(', ')}`;
  }
  return undefined;
};

/** A domain a member may claim: a domain where `*` stands for any run of letters, digits, dashes and dots, and `${app}` for the app's name. */
const checkDomainPattern: Check = (v) => {
  const sample = v.replaceAll('${app}', 'app').replaceAll('*', 'x');
  return /^[a-z0-9.*${}-]{1,253}$/.test(v) && checkDomain(sample) === undefined
    ? undefined
    : `${show(v)} is not a domain pattern: a domain where * stands for any part, and \${app} for the app's name (like *.shop.example.com or \${app}.example.com)`;
};

const checkAppGlob: Check = (v) =>
  /^[a-z0-9*?-]{1,40}$/.test(v) ? undefined : `${show(v)} is not an app name or glob (a-z, 0-9, -, * and ?)`;

const KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
];

/** An OpenSSH public key line whose base64 blob really holds a key of the type it claims. */
export const checkPublicKey: Check = (v) => {
  const match = /^([a-z0-9@.-]+) ([A-Za-z0-9+/]+={0,2})(?: [^\u0000-\u001f]*)?$/.exec(v);
  if (!match) return 'not an OpenSSH public key line ("ssh-ed25519 AAAA... comment")';
  const [, type, blob] = match;
  if (!KEY_TYPES.includes(type!)) return `${show(type!)} is not a supported key type; use one of: ${KEY_TYPES.join(', ')}`;
  const bytes = Buffer.from(blob!, 'base64');
  const length = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
  if (length < 0 || bytes.subarray(4, 4 + length).toString('latin1') !== type) return `the key's data does not match its type ${show(type!)}: the line is damaged`;
  return undefined;
};
