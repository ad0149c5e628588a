/** The gateway configuration: a directory of YAML files, static, written by hand or by Puppet. */
export interface GatewayConfig {
  /** The directory it was read from (absolute). */
  dir: string;
  gateway: GatewaySettings;
  clusters: Record<string, ClusterConfig>;
  users: Record<string, UserConfig>;
}

export interface GatewaySettings {
  /** Where the gateway keeps repositories, keys, Redis data. Default `/var/lib/magrathea`. */
  stateDir: string;
  /** The branch whose environment is the default one (`app` = `app@<env of this branch>`). Default `master`. */
  defaultBranch: string;
  /** Releases kept on each host, the current one included. Default 5. */
  keepReleases: number;
  /** The longest a release hook may run, in seconds; an app's `hooks.timeout` may only lower it. Default 600. */
  releaseHookTimeoutSeconds: number;
  listen: { ssh: string; http: string };
  /** How workers on other machines (and API clients) reach the HTTP API: `http://host:port`. Default `http://<listen.http>`. */
  httpUrl: string;
  /** How the gateway and its workers log in to the hosts. */
  ssh: {
    /** Private key. Default `<state_dir>/ssh/id_ed25519`. */
    identity: string;
    /** The hosts' keys, checked strictly. Default `<state_dir>/ssh/known_hosts`. */
    knownHosts: string;
    /** Seconds a host's SSH master stays up after a deploy (or command) closed it, for the next one; 0 closes it at once. Default 60. */
    masterIdleSeconds: number;
  };
  accounting: AccountingSettings;
  backups: BackupSettings;
  limits: LimitsSettings;
  builds: BuildSettings;
}

/**
 * What one client may hold of the gateway's front door (`limits:` in
 * gateway.yml): many teams share one gateway, and none may starve the others.
 */
export interface LimitsSettings {
  ssh: {
    /** Seconds a connection has to log in before it is closed. Default 10. */
    authTimeoutSeconds: number;
    /** Open SSH connections, every address together. Default 1000. */
    connections: number;
    /** Open SSH connections from one IP address. Default 50. */
    connectionsPerAddress: number;
    /** Sessions open at once on one connection (OpenSSH multiplexing opens several). Default 10. */
    channelsPerConnection: number;
  };
  http: {
    /** Seconds a request's headers and body have to arrive; later, 408 and the connection is closed. Default 30. */
    requestTimeoutSeconds: number;
    /** Seconds a kept-alive connection may wait for its next request. Default 5. */
    idleTimeoutSeconds: number;
    /** Open HTTP connections. Default 1000. */
    connections: number;
    /** Streamed answers (deploy, rollback, logs, /v1/run) open at once per token. Default 4. */
    streamsPerToken: number;
    /** Requests per minute per token (a burst of as many at once), else 429 with Retry-After. */
    requestsPerMinute: number;
  };
  /** `logs -f` running at once per user, over SSH and the HTTP API together. Default 4. */
  logsFollowPerUser: number;
}

/**
 * How untrusted build commands run (`builds:` in gateway.yml). Each command
 * runs in its own namespaces under a throwaway uid; these bound what it may
 * reach and how much it may take.
 */
export interface BuildSettings {
  /** `allow`: build commands reach the network (composer needs it); `deny`: a network namespace of their own, loopback only. Default `allow`. */
  network: 'allow' | 'deny';
  /** Seconds one build command may run; then it, and everything it started, is killed. Default 600 (10 minutes). */
  stepTimeoutSeconds: number;
  /** Bytes one push may send (git's `receive.maxInputSize`). Default 500M. */
  maxPushSize: number;
  /** Bytes a built release may hold (its regular files), checked before it is shipped; also the largest file a build command may write. Default 2G. */
  maxReleaseSize: number;
  /** Processes (and threads) one build may run at once: a fork bomb stops there. Default 512. */
  maxProcesses: number;
  /** Bytes of data (heap and private mappings, RLIMIT_DATA) each process of a build may take. Default 4G. */
  maxMemory: number;
}

/** Disk and web traffic accounting (`accounting:` in gateway.yml). */
export interface AccountingSettings {
  /** Seconds between two visits of every host by the accounting job. Default 300 (5 minutes). */
  intervalSeconds: number;
  /** Seconds hourly traffic and daily disk history are kept. Default 90 days. */
  retentionSeconds: number;
  /** Quotas per app (`apps`), else `default`; a quota left out is not checked. */
  quotas: { default: Quota; apps: Record<string, Quota> };
}

/** Database backups (`backups:` in gateway.yml), kept on each cluster's db host. */
export interface BackupSettings {
  /** Backups kept per instance and cluster; a capture removes the oldest beyond this. Default 7. */
  keep: number;
  /** Seconds between two captures of every instance that has a database (a BullMQ repeatable job). Default: none (captured on demand only). */
  scheduleSeconds?: number;
}

export interface Quota {
  /** Bytes of disk one app may use on one host, every environment together. */
  disk?: number;
  /** Bytes of web traffic (in + out, every cluster) one app may use per calendar month (UTC). */
  traffic?: number;
}

export type Role = 'web' | 'cache' | 'balancer' | 'sessions' | 'db';
export const ROLES: readonly Role[] = ['web', 'cache', 'balancer', 'sessions', 'db'];
/** The roles every cluster needs a host of; `sessions` and `db` are optional (one host at most each). */
export const REQUIRED_ROLES: readonly Role[] = ['web', 'cache', 'balancer'];

export interface HostConfig {
  name: string;
  /** Where SSH, and the other hosts of the cluster, reach it. */
  address: string;
  /**
   * The address its own connections come from, as the cluster's other hosts
   * see them (the database grants its apps' users to the web hosts' by it),
   * when it is not `address`: a host behind NAT, or whose backend network is
   * another interface. Default: `address`.
   */
  egress?: string;
  ssh: { user: string; port: number };
  roles: Role[];
}

export interface ClusterPorts {
  /** Apache on web hosts. Default 80. */
  web: number;
  /** Varnish on cache hosts. Default 6081. */
  cache: number;
  /** HAProxy on balancer hosts: the cluster's front door. Default 80. */
  balancer: number;
  /** MariaDB (or MySQL) on the db host, where web hosts reach it. Default 3306. */
  db: number;
}

export interface ClusterPaths {
  apps: string;
  logs: string;
  apache: string;
  /** May contain `{php}`, replaced by the instance's PHP version. */
  fpm: string;
  fpmSockets: string;
  varnish: string;
  haproxy: string;
}

/**
 * How each service is checked and reloaded on the hosts, as argv templates
 * (never shell strings). Placeholders: `{php}` PHP version, `{file}` a file
 * to check, `{dir}` a directory to check, `{tmp}` a fresh temporary name.
 */
export interface ClusterCommands {
  apache: { check: string[]; reload: string[] };
  fpm: { check: string[]; reload: string[] };
  /** `admin` is the varnishadm prefix used for vcl.load / vcl.use / vcl.discard / ban. */
  varnish: { check: string[]; admin: string[] };
  haproxy: { check: string[]; reload: string[] };
}

/**
 * The cluster's session store (`sessions:` in clusters.yml, on the host of
 * role `sessions`): a Redis 6+ that every web host reaches, where each
 * instance's PHP sessions live under its own key prefix and its own ACL user.
 */
export interface SessionStoreConfig {
  /** The host of role `sessions`: where the store's admin commands run (over SSH). */
  host: string;
  /** Where web hosts reach the store: the host's address. */
  address: string;
  /** Default 6379. */
  port: number;
  /** The store's ACL user that may create users (`ACL SETUSER`). Default `default` (the one `requirepass` sets). */
  adminUser: string;
  /** A root-only file on the store's host holding the admin user's password. Default `/etc/magrathea/sessions.password`. */
  passwordFile: string;
}

/**
 * The cluster's database server (the host of role `db`): a MariaDB or
 * MySQL that every web host reaches at the host's address. Its admin
 * commands run over SSH on that host, as root, through its unix socket.
 */
export interface DatabaseConfig {
  /** The host of role `db`. */
  host: string;
  /** Where web hosts reach it: the host's address. */
  address: string;
  /** `ports.db`. */
  port: number;
}

/**
 * The ISPConfig panel that manages the cluster (`ispconfig:` in
 * clusters.yml): its databases are then made through the panel's remote
 * JSON API (the panel's admins see, limit and back them up there), and a
 * domain the panel already serves is refused before a deploy claims it.
 */
export interface IspconfigConfig {
  /** The remote API's URL: `https://panel.example.com:8080/remote/json.php`. */
  url: string;
  /** The panel's remote user (System > Remote Users). */
  user: string;
  /** A root-only file on the gateway holding the remote user's password (never in YAML). */
  passwordFile: string;
  /** The remote user's password, read from `passwordFile` by the loader (empty in a configuration only validated). */
  password: string;
  /** The panel client the databases belong to: its login name, or its numeric id. */
  client: string;
  /** The panel's id of the cluster's db server. Default: the panel's server whose IP is the db host's (`server_get_serverid_by_ip`). */
  serverId?: number;
  /** Seconds a new database may take to log in (the panel applies its queue from a cron, every minute). Default 90. */
  waitSeconds: number;
}

export interface ClusterConfig {
  name: string;
  /** Absent: no panel; Magrathea runs the SQL on the db host itself. */
  ispconfig?: IspconfigConfig;
  /** Absent: the cluster has no database server. */
  db?: DatabaseConfig;
  /** Absent: PHP sessions are files on each web host, and a cluster of several web hosts pins each client to one (a cookie at the cache). */
  sessions?: SessionStoreConfig;
  /** The URL users are shown for the cluster's front door. */
  edge: string;
  ports: ClusterPorts;
  hosts: HostConfig[];
  paths: ClusterPaths;
  commands: ClusterCommands;
  /**
   * A directory mounted at the same path on every web host of the cluster
   * (NFS, GlusterFS: provisioned by Puppet): each instance's `shared:` dirs
   * live there once per cluster, at `<storage>/<app>/<env>/<path>`. Absent:
   * they are per web host.
   */
  storage?: string;
}

export type UserRole = 'admin' | 'member';
export const VERBS = ['deploy', 'config', 'logs', 'shell', 'rollback'] as const;
export type Verb = (typeof VERBS)[number];

export interface UserConfig {
  name: string;
  role: UserRole;
  /** OpenSSH public keys, one line each (`ssh-ed25519 AAAA... comment`). */
  keys: string[];
  /** Globs of app names a member may touch (`shop-*`); admins may touch all. */
  apps: string[];
  verbs: Verb[];
  /** Globs of the clusters a member may deploy to; admins: `*`. None given: none. */
  clusters: string[];
  /** Domains a member's apps may claim (`*` any part, `${app}` the app's name); admins: `*`. None given: none. */
  domains: string[];
}
