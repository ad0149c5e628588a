import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { formatProblem } from '../source.js';
import { loadGatewayConfig } from '../../config/load.js';
import { DEFAULT_COMMANDS, DEFAULT_LIMITS, DEFAULT_PATHS, validateGatewayConfig, type GatewayConfigFiles } from './validate.js';

function problems(files: GatewayConfigFiles): string[] {
  const result = validateGatewayConfig('/cfg', files);
  return 'problems' in result ? result.problems.map(formatProblem) : [];
}

const HOSTS = 'c1:\n  hosts:\n    w1: { address: 127.0.1.1, roles: [web] }\n    e1: { address: 127.0.1.2, roles: [cache, balancer] }\n';

describe('validateGatewayConfig', () => {
  it('loads the commented example in config/, with both clusters and both users', async () => {
    const config = await loadGatewayConfig('config');
    expect(Object.keys(config.clusters)).toEqual(['cluster-a', 'cluster-b']);
    expect(config.clusters['cluster-a']!.ports).toEqual({ web: 8080, cache: 6081, balancer: 80, db: 3306 });
    expect(config.clusters['cluster-a']!.hosts.find((h) => h.name === 'a-web-2')!.ssh).toEqual({ user: 'root', port: 2201 });
    expect(config.clusters['cluster-b']!.hosts[0]!.ssh).toEqual({ user: 'deploy', port: 22 });
    expect(config.clusters['cluster-b']!.edge).toBe('http://198.51.100.2');
    expect(config.users.bob).toMatchObject({ role: 'member', apps: ['shop-*', 'hello'], verbs: ['deploy', 'logs', 'config'], clusters: ['cluster-a'], domains: ['${app}.example.com', '*.${app}.example.com'] });
    expect(config.users.alice).toMatchObject({ clusters: ['*'], domains: ['*'] });
    expect(config.gateway.releaseHookTimeoutSeconds).toBe(600);
    expect(config.users.alice!.verbs).toEqual(['deploy', 'config', 'logs', 'shell', 'rollback']);
    expect(config.gateway.defaultBranch).toBe('master');
    expect(config.gateway.accounting).toEqual({
      intervalSeconds: 300,
      retentionSeconds: 90 * 86400,
      quotas: { default: { disk: 5 * 1024 ** 3, traffic: 200 * 1024 ** 3 }, apps: { shop: { disk: 20 * 1024 ** 3, traffic: 1024 ** 4 } } },
    });
  });

  it('fills defaults: paths, commands, ports, ssh, edge URL', () => {
    const result = validateGatewayConfig('/cfg', { 'clusters.yml': HOSTS });
    if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
    const c1 = result.config.clusters.c1!;
    expect(c1.paths).toEqual(DEFAULT_PATHS);
    expect(c1.commands).toEqual(DEFAULT_COMMANDS);
    expect(c1.ports).toEqual({ web: 80, cache: 6081, balancer: 80, db: 3306 });
    expect(c1.edge).toBe('http://127.0.1.2');
    expect(c1.hosts[0]!.ssh).toEqual({ user: 'root', port: 22 });
  });

  it('reads a host\'s egress: the address its connections come from (the database grants by it)', () => {
    const result = validateGatewayConfig('/cfg', { 'clusters.yml': HOSTS.replace('roles: [web]', 'egress: 10.0.0.1, roles: [web]') });
    if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
    expect(result.config.clusters.c1!.hosts.find((h) => h.roles.includes('web'))!.egress).toBe('10.0.0.1');
    expect(problems({ 'clusters.yml': HOSTS.replace('roles: [web]', 'egress: db.internal, roles: [web]') })).toEqual([expect.stringMatching(/egress: "db\.internal" is not an IPv4 address/)]);
  });

  it('reads a cluster\'s ISPConfig panel, and names the file, line and field of what is wrong with it', () => {
    const withDb = HOSTS.replace('roles: [cache, balancer]', 'roles: [cache, balancer, db]');
    const panel = '  ispconfig: { url: "https://panel.example.com:8080/remote/json.php", user: magrathea, password_file: /etc/magrathea/ispconfig.password, client: shop-team, wait: 2m }\n';
    const result = validateGatewayConfig('/cfg', { 'clusters.yml': withDb + panel });
    if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
    expect(result.config.clusters.c1!.ispconfig).toEqual({ url: 'https://panel.example.com:8080/remote/json.php', user: 'magrathea', passwordFile: '/etc/magrathea/ispconfig.password', password: '', client: 'shop-team', waitSeconds: 120 });
    expect(problems({ 'clusters.yml': withDb + panel.replace(', wait: 2m', ', server_id: 3, password: hunter2') })).toEqual([expect.stringMatching(/^\/cfg\/clusters\.yml:5:\d+: c1\.ispconfig\.password: no password in clusters\.yml: put it in a root-only file/)]);
    expect(problems({ 'clusters.yml': withDb + panel.replace('https://panel', 'https://u:p@panel') })).toEqual([expect.stringMatching(/^\/cfg\/clusters\.yml:5:\d+: c1\.ispconfig\.url: .* is not the URL of the panel's remote API/)]);
    expect(problems({ 'clusters.yml': HOSTS + panel })).toEqual([expect.stringMatching(/^\/cfg\/clusters\.yml:5:\d+: c1\.ispconfig: cluster "c1" has no host of role "db"/)]);
    expect(problems({ 'clusters.yml': withDb + '  ispconfig: { url: "http://p/remote/json.php", user: m, client: c }\n' })).toEqual([expect.stringMatching(/c1\.ispconfig: missing required key "password_file"/)]);
  });

  it('names the file, line and column of each problem', () => {
    expect(problems({ 'clusters.yml': HOSTS + '    w2: { address: 127.0.1.300, roles: [web] }\n' })).toEqual([
      expect.stringMatching(/^\/cfg\/clusters\.yml:5:20: c1\.hosts\.w2\.address: "127\.0\.1\.300" is not an IPv4 address/),
    ]);
    expect(problems({ 'clusters.yml': HOSTS, 'gateway.yml': 'keep_releases: 1\nlisten: { ssh: "nowhere" }\n' })).toEqual([
      expect.stringMatching(/^\/cfg\/gateway\.yml:1:16: keep_releases: "1" is not a whole number between 2 and 100/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:2:16: listen\.ssh: "nowhere" is not an address:port/),
    ]);
    expect(problems({ 'clusters.yml': HOSTS, 'gateway.yml': 'http_url: "ftp://gw/x; rm"\n' })).toEqual([
      expect.stringMatching(/^\/cfg\/gateway\.yml:1:11: http_url: "ftp:\/\/gw\/x; rm" is not a URL/),
    ]);
  });

  it('takes http_url, or makes it from listen.http', () => {
    const url = (gateway: string) => {
      const result = validateGatewayConfig('/cfg', { 'clusters.yml': HOSTS, 'gateway.yml': gateway });
      return 'config' in result ? result.config.gateway.httpUrl : result.problems;
    };
    expect(url('listen: { http: "0.0.0.0:8080" }\n')).toBe('http://127.0.0.1:8080');
    expect(url('http_url: http://gw.example:5000/\n')).toBe('http://gw.example:5000');
  });

  it('reads accounting settings: interval and retention as durations, quotas as sizes, with defaults', () => {
    const read = (gateway: string) => {
      const result = validateGatewayConfig('/cfg', { 'clusters.yml': HOSTS, 'gateway.yml': gateway });
      if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
      return result.config.gateway.accounting;
    };
    expect(read('keep_releases: "3"\n')).toEqual({ intervalSeconds: 300, retentionSeconds: 90 * 86400, quotas: { default: {}, apps: {} } });
    expect(read('accounting:\n  interval: 30s\n  quotas: { apps: { blog: { traffic: 512M } } }\n')).toEqual({
      intervalSeconds: 30,
      retentionSeconds: 90 * 86400,
      quotas: { default: {}, apps: { blog: { traffic: 512 * 1024 ** 2 } } },
    });
    expect(problems({ 'clusters.yml': HOSTS, 'gateway.yml': 'accounting:\n  interval: 1s\n  retention: 5\n  quotas:\n    default: { disk: 2GB, trafic: 1G }\n    apps: { Shop: { disk: 0 } }\n  extra: 1\n' })).toEqual([
      expect.stringMatching(/^\/cfg\/gateway\.yml:7:3: accounting\.extra: unknown key "extra"; expected one of: interval, retention, quotas/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:5:27: accounting\.quotas\.default\.trafic: unknown key "trafic"; expected one of: disk, traffic/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:5:22: accounting\.quotas\.default\.disk: "2GB" is not a size/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:6:13: accounting\.quotas\.apps\.Shop: "Shop" is not a valid name/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:2:13: accounting\.interval: "1s": the interval must be from 10s to 1d/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:3:14: accounting\.retention: "5" is not a duration/),
    ]);
  });

  it('reads backup settings: keep and an optional schedule, with defaults', () => {
    const read = (gateway: string) => {
      const result = validateGatewayConfig('/cfg', { 'clusters.yml': HOSTS, 'gateway.yml': gateway });
      if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
      return result.config.gateway.backups;
    };
    expect(read('keep_releases: 3\n')).toEqual({ keep: 7 });
    expect(read('backups: { keep: 3, schedule: 24h }\n')).toEqual({ keep: 3, scheduleSeconds: 86400 });
    expect(problems({ 'clusters.yml': HOSTS, 'gateway.yml': 'backups:\n  keep: 0\n  schedule: 5s\n  every: 1h\n' })).toEqual([
      expect.stringMatching(/^\/cfg\/gateway\.yml:4:3: backups\.every: unknown key "every"; expected one of: keep, schedule/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:2:9: backups\.keep: /),
      expect.stringMatching(/^\/cfg\/gateway\.yml:3:13: backups\.schedule: "5s": the backup schedule must be from 1m to 366d/),
    ]);
  });

  it('reads limits: durations and counts, with defaults, each problem at its line', async () => {
    const read = (gateway: string) => {
      const result = validateGatewayConfig('/cfg', { 'clusters.yml': HOSTS, 'gateway.yml': gateway });
      if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
      return result.config.gateway.limits;
    };
    // The commented example states the defaults.
    expect((await loadGatewayConfig('config')).gateway.limits).toEqual(DEFAULT_LIMITS);
    expect(read('keep_releases: 3\n')).toEqual(DEFAULT_LIMITS);
    expect(read('limits:\n  ssh: { auth_timeout: 2s, connections_per_address: 3000 }\n  http: { request_timeout: 1m }\n  logs_follow_per_user: 1\n')).toEqual({
      ssh: { ...DEFAULT_LIMITS.ssh, authTimeoutSeconds: 2, connectionsPerAddress: 3000 },
      http: { ...DEFAULT_LIMITS.http, requestTimeoutSeconds: 60 },
      logsFollowPerUser: 1,
    });
    expect(problems({ 'clusters.yml': HOSTS, 'gateway.yml': 'limits:\n  ssh:\n    auth_timeout: 0s\n    channels: 3\n  http: { idle_timeout: soon, connections: 0 }\n  logs_follow_per_user: -1\n' })).toEqual([
      expect.stringMatching(/^\/cfg\/gateway\.yml:4:5: limits\.ssh\.channels: unknown key "channels"; expected one of: auth_timeout, connections, connections_per_address, channels_per_connection/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:3:19: limits\.ssh\.auth_timeout: "0s": must be from 1s to 10m/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:5:25: limits\.http\.idle_timeout: "soon" is not a duration/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:5:44: limits\.http\.connections: "0" is not a whole number between 1 and 100000/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:6:25: limits\.logs_follow_per_user: "-1" is not a whole number between 1 and 1000/),
    ]);
  });

  it('reads build settings: network, step time limit, push and release size caps, process and memory limits, with defaults', () => {
    const read = (gateway: string) => {
      const result = validateGatewayConfig('/cfg', { 'clusters.yml': HOSTS, 'gateway.yml': gateway });
      if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
      return result.config.gateway.builds;
    };
    expect(read('keep_releases: "3"\n')).toEqual({ network: 'allow', stepTimeoutSeconds: 600, maxPushSize: 500 * 1024 ** 2, maxReleaseSize: 2 * 1024 ** 3, maxProcesses: 512, maxMemory: 4 * 1024 ** 3 });
    expect(read('builds:\n  network: deny\n  step_timeout: 90s\n  max_push_size: 64M\n  max_release_size: 1G\n  max_processes: 64\n  max_memory: 512M\n')).toEqual({
      network: 'deny',
      stepTimeoutSeconds: 90,
      maxPushSize: 64 * 1024 ** 2,
      maxReleaseSize: 1024 ** 3,
      maxProcesses: 64,
      maxMemory: 512 * 1024 ** 2,
    });
    expect(problems({ 'clusters.yml': HOSTS, 'gateway.yml': 'builds:\n  network: off\n  step_timeout: 2d\n  max_push_size: 1.5G\n  max_release_size: [1G]\n  limits: 1\n  max_processes: 8\n  max_memory: lots\n' })).toEqual([
      expect.stringMatching(/^\/cfg\/gateway\.yml:6:3: builds\.limits: unknown key "limits"; expected one of: network, step_timeout, max_push_size, max_release_size, max_processes, max_memory/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:2:12: builds\.network: "off" is not one of: allow, deny/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:3:17: builds\.step_timeout: "2d": a build step's time limit must be from 1s to 1d/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:4:18: builds\.max_push_size: "1\.5G" is not a size/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:5:21: builds\.max_release_size: expected a single value/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:7:18: builds\.max_processes: "8" is not a whole number between 16 and 100000/),
      expect.stringMatching(/^\/cfg\/gateway\.yml:8:15: builds\.max_memory: "lots" is not a size/),
    ]);
  });

  it('requires clusters.yml, and web, cache and balancer hosts in every cluster', () => {
    expect(problems({})).toEqual(['/cfg/clusters.yml:1:1: missing: the gateway configuration needs clusters.yml']);
    expect(problems({ 'clusters.yml': 'c1:\n  hosts:\n    w1: { address: 127.0.1.1, roles: [web] }\n' })).toEqual([
      expect.stringMatching(/^\/cfg\/clusters\.yml:3:5: c1\.hosts: cluster "c1" has no host with the role "cache"/),
      expect.stringMatching(/^\/cfg\/clusters\.yml:3:5: c1\.hosts: cluster "c1" has no host with the role "balancer"/),
    ]);
  });

  it('reads a session store: the host of role sessions, with its port, admin user and password file, or their defaults', async () => {
    const example = await loadGatewayConfig('config');
    expect(example.clusters['cluster-a']!.sessions).toEqual({ host: 'a-edge', address: '192.0.2.10', port: 6379, adminUser: 'default', passwordFile: '/etc/magrathea/sessions.password' });
    expect(example.clusters['cluster-b']!.sessions).toBeUndefined();
    const withRole = HOSTS.replace('[cache, balancer]', '[cache, balancer, sessions]');
    const read = (text: string) => {
      const result = validateGatewayConfig('/cfg', { 'clusters.yml': text });
      if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
      return result.config.clusters.c1!.sessions;
    };
    expect(read(withRole)).toEqual({ host: 'e1', address: '127.0.1.2', port: 6379, adminUser: 'default', passwordFile: '/etc/magrathea/sessions.password' });
    expect(read(`${withRole}  sessions: { port: 6390, user: magrathea-admin, password_file: /root/redis.pw }\n`)).toMatchObject({ port: 6390, adminUser: 'magrathea-admin', passwordFile: '/root/redis.pw' });
  });

  it('refuses a session store without its host, two of them in a cluster, and bad settings, at their lines', () => {
    expect(problems({ 'clusters.yml': `${HOSTS}  sessions: { port: 6379 }\n` })).toEqual([
      expect.stringMatching(/^\/cfg\/clusters\.yml:5:13: c1\.sessions: no host of cluster "c1" has the role "sessions"/),
    ]);
    const two = HOSTS.replace('[web]', '[web, sessions]').replace('[cache, balancer]', '[cache, balancer, sessions]');
    expect(problems({ 'clusters.yml': two })).toEqual([expect.stringMatching(/^\/cfg\/clusters\.yml:4:38: c1\.hosts\.e1\.roles: host "w1" is already the session store of cluster "c1"/)]);
    const withRole = HOSTS.replace('[cache, balancer]', '[cache, balancer, sessions]');
    expect(problems({ 'clusters.yml': `${withRole}  sessions: { port: 0, user: "a b", password_file: relative, host: e1 }\n` })).toEqual([
      expect.stringMatching(/^\/cfg\/clusters\.yml:5:62: c1\.sessions\.host: unknown key "host"; expected one of: port, user, password_file/),
      expect.stringMatching(/^\/cfg\/clusters\.yml:5:21: c1\.sessions\.port: "0" is not a whole number between 1 and 65535/),
      expect.stringMatching(/^\/cfg\/clusters\.yml:5:30: c1\.sessions\.user: "a b" is not a Redis user name/),
      expect.stringMatching(/^\/cfg\/clusters\.yml:5:52: c1\.sessions\.password_file: "relative" is not an absolute path/),
    ]);
    expect(problems({ 'clusters.yml': HOSTS.replace('[web]', '[web, sessions, mysql]') })).toEqual([
      expect.stringMatching(/^\/cfg\/clusters\.yml:3:54: c1\.hosts\.w1\.roles\.2: "mysql" is not a role; roles are: web, cache, balancer, sessions, db/),
      expect.stringMatching(/has no host with the role "web"/),
    ]);
  });

  it('reads a database server: the host of role db, at ports.db (default 3306); none without the role', () => {
    const read = (text: string) => {
      const result = validateGatewayConfig('/cfg', { 'clusters.yml': text });
      if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
      return result.config.clusters.c1!;
    };
    expect(read(HOSTS).db).toBeUndefined();
    const withRole = HOSTS.replace('[cache, balancer]', '[cache, balancer, sessions, db]');
    expect(read(withRole).db).toEqual({ host: 'e1', address: '127.0.1.2', port: 3306 });
    expect(read(withRole).hosts.find((h) => h.name === 'e1')!.roles).toEqual(['cache', 'balancer', 'sessions', 'db']);
    const ported = read(`${withRole}  ports: { db: 3307 }\n`);
    expect(ported.db).toEqual({ host: 'e1', address: '127.0.1.2', port: 3307 });
    expect(ported.ports).toEqual({ web: 80, cache: 6081, balancer: 80, db: 3307 });
    // A host of its own, with only the role db.
    expect(read(`${HOSTS}    d1: { address: 127.0.1.3, roles: [db] }\n`).db).toEqual({ host: 'd1', address: '127.0.1.3', port: 3306 });
  });

  it('refuses two database servers in a cluster, at the second one\'s roles, and a bad db port', () => {
    const two = HOSTS.replace('[web]', '[web, db]').replace('[cache, balancer]', '[cache, balancer, db]');
    expect(problems({ 'clusters.yml': two })).toEqual([
      expect.stringMatching(/^\/cfg\/clusters\.yml:4:38: c1\.hosts\.e1\.roles: host "w1" is already the database server of cluster "c1"; a cluster has one host of role "db"/),
    ]);
    const three = `${HOSTS.replace('[web]', '[web, db]')}    d1: { address: 127.0.1.3, roles: [db] }\n    d2: { address: 127.0.1.4, roles: [db] }\n`;
    expect(problems({ 'clusters.yml': three })).toEqual([
      expect.stringMatching(/^\/cfg\/clusters\.yml:5:38: c1\.hosts\.d1\.roles: host "w1" is already the database server/),
      expect.stringMatching(/^\/cfg\/clusters\.yml:6:38: c1\.hosts\.d2\.roles: host "w1" is already the database server/),
    ]);
    expect(problems({ 'clusters.yml': `${HOSTS.replace('[web]', '[web, db]')}  ports: { db: 70000, mysql: 3306 }\n` })).toEqual([
      expect.stringMatching(/^\/cfg\/clusters\.yml:5:23: c1\.ports\.mysql: unknown key "mysql"; expected one of: web, cache, balancer, db/),
      expect.stringMatching(/^\/cfg\/clusters\.yml:5:16: c1\.ports\.db: "70000" is not a whole number between 1 and 65535/),
    ]);
  });

  it('refuses two hosts on one address and a typo in a key', () => {
    expect(problems({ 'clusters.yml': HOSTS + '    w2: { address: 127.0.1.1, roles: [web] }\n    w3: { adress: 127.0.1.9, roles: [web] }\n' })).toEqual([
      expect.stringMatching(/^\/cfg\/clusters\.yml:5:20: c1\.hosts\.w2\.address: 127\.0\.1\.1 is also the address of host "w1"/),
      expect.stringMatching(/^\/cfg\/clusters\.yml:6:11: c1\.hosts\.w3\.adress: unknown key "adress"; expected one of: address, roles, ssh/),
      expect.stringMatching(/^\/cfg\/clusters\.yml:6:9: c1\.hosts\.w3: missing required key "address"/),
    ]);
  });

  it('checks users: roles, verbs, keys that are real keys, a key per user', async () => {
    const key = (await readFile('config/users.yml', 'utf8')).match(/ssh-ed25519 \S+/)![0];
    const damaged = key.slice(0, 30) + 'AAAA' + key.slice(34);
    expect(problems({ 'clusters.yml': HOSTS, 'users.yml': `a:\n  role: admin\n  keys: ["${key}"]\nb:\n  role: member\n  keys: ["${key} b@ci"]\n` })).toEqual([
      expect.stringMatching(/^\/cfg\/users\.yml:6:10: b\.keys\.0: this key is already the key of user "a"/),
    ]);
    expect(problems({ 'clusters.yml': HOSTS, 'users.yml': `a:\n  role: root\n  keys: ["${key}"]\nb:\n  role: member\n  keys: ["${key}", "${damaged}", "ssh-dss AAAA"]\n  verbs: [deploy, sudo]\n` })).toEqual([
      expect.stringMatching(/^\/cfg\/users\.yml:2:9: a\.role: "root" is not one of: admin, member/),
      expect.stringMatching(/^\/cfg\/users\.yml:6:\d+: b\.keys\.1: the key's data does not match its type/),
      expect.stringMatching(/^\/cfg\/users\.yml:6:\d+: b\.keys\.2: "ssh-dss" is not a supported key type/),
      expect.stringMatching(/^\/cfg\/users\.yml:7:19: b\.verbs\.1: "sudo" is not a verb/),
    ]);
  });
});

describe('users: what a member may deploy', () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAhws3CpZS9vWlPT6fRHX2WXG/UrbMHYoK/JUgYK57kx bob@ci';
  it('reads clusters and domain patterns, refusing what is not one, with file:line', () => {
    expect(problems({ 'clusters.yml': HOSTS, 'users.yml': `bob:\n  role: member\n  keys: ["${key}"]\n  clusters: ["c*"]\n  domains: ["*.example.com", "\${app}.example.org"]\n` })).toEqual([]);
    expect(problems({ 'clusters.yml': HOSTS, 'users.yml': `bob:\n  role: member\n  keys: ["${key}"]\n  domains: ["http://x.com", "\${user}.example.com"]\n` })).toEqual([
      expect.stringMatching(/^\/cfg\/users\.yml:4:13: bob\.domains\.0: "http:\/\/x\.com" is not a domain pattern/),
      expect.stringMatching(/^\/cfg\/users\.yml:4:29: bob\.domains\.1: .*is not a domain pattern/),
    ]);
  });

  it('reads release_hook_timeout within 1s..1d', () => {
    const result = validateGatewayConfig('/cfg', { 'clusters.yml': HOSTS, 'gateway.yml': 'release_hook_timeout: 2m\n' });
    expect('config' in result && result.config.gateway.releaseHookTimeoutSeconds).toBe(120);
    expect(problems({ 'clusters.yml': HOSTS, 'gateway.yml': 'release_hook_timeout: 2d\n' })).toEqual([expect.stringMatching(/^\/cfg\/gateway\.yml:1:23: .*from 1s to 1d/)]);
  });

  it('reads ssh.master_idle within 0s..1h, 60 s when not given', () => {
    const idle = (text: string) => {
      const result = validateGatewayConfig('/cfg', { 'clusters.yml': HOSTS, 'gateway.yml': text });
      return 'config' in result ? result.config.gateway.ssh.masterIdleSeconds : undefined;
    };
    expect(idle('keep_releases: 5\n')).toBe(60);
    expect(idle('ssh: { master_idle: 0s }\n')).toBe(0);
    expect(idle('ssh: { master_idle: 5m }\n')).toBe(300);
    expect(problems({ 'clusters.yml': HOSTS, 'gateway.yml': 'ssh: { master_idle: 2h }\n' })).toEqual([expect.stringMatching(/^\/cfg\/gateway\.yml:1:21: .*from 0s to 1h/)]);
    expect(problems({ 'clusters.yml': HOSTS, 'gateway.yml': 'ssh: { master_idle: soon }\n' })).toEqual([expect.stringMatching(/^\/cfg\/gateway\.yml:1:21: .*not a duration/)]);
  });
});

describe('clusters: storage', () => {
  it('is read when given (a trailing slash dropped), absent otherwise', () => {
    const read = (extra: string) => {
      const result = validateGatewayConfig('/cfg', { 'clusters.yml': HOSTS + extra });
      if ('problems' in result) throw new Error(result.problems.map(formatProblem).join('\n'));
      return result.config.clusters.c1!.storage;
    };
    expect(read('')).toBeUndefined();
    expect(read('  storage: /srv/magrathea/\n')).toBe('/srv/magrathea');
  });

  it('refuses what is not a path of its own, with file:line', () => {
    expect(problems({ 'clusters.yml': HOSTS + '  storage: srv\n' })).toEqual([expect.stringMatching(/^\/cfg\/clusters\.yml:5:12: c1\.storage: "srv" is not an absolute path/)]);
    expect(problems({ 'clusters.yml': HOSTS + '  storage: /srv\n' })).toEqual([expect.stringMatching(/^\/cfg\/clusters\.yml:5:12: c1\.storage: .*below a top-level one/)]);
    expect(problems({ 'clusters.yml': HOSTS + '  storage: /var/www/magrathea/files\n' })).toEqual([expect.stringMatching(/^\/cfg\/clusters\.yml:5:12: c1\.storage: .*inside or around paths\.apps/)]);
    expect(problems({ 'clusters.yml': HOSTS + '  storage: /var/log\n' })).toEqual([expect.stringMatching(/:5:12: c1\.storage: .*inside or around paths\.logs/)]);
    expect(problems({ 'clusters.yml': HOSTS + '  storage: /etc/php/x\n' })).toEqual([expect.stringMatching(/:5:12: c1\.storage: .*paths\.fpm /)]);
    expect(problems({ 'clusters.yml': HOSTS + '  storage: [/srv/a]\n' })).toEqual([expect.stringMatching(/:5:12: c1\.storage: expected a single value/)]);
  });
});
