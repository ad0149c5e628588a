import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GatewayConfig } from '../../src/core/config/types.js';
import type { ConfigVars } from '../../src/core/manifest/types.js';
import { fpmSocket, PROBE_PATH, probeFile, unixUser } from '../../src/core/render/names.js';
import { agentArgv } from '../../src/deployer/agent.js';
import type { DeployOutcome } from '../../src/deployer/types.js';
import type { LabStatus } from '../../src/lab/status.js';
import { curl } from '../helpers/curl.js';
import { openDeployHarness, type DeployHarness, type TreeEntry } from '../helpers/deploy-trees.js';
import { sshRun, useLab } from '../helpers/lab.js';

/**
 * Tenants on shared web hosts: what an app's own tree, release hook and PHP
 * code try against another app, the hosts' root and the deploy itself. The
 * trees are handed to deploy() as they are (as if the gateway's own checks
 * had let them through), so that each test shows what the hosts themselves
 * refuse. Each asserts that what the attacker wanted did not happen.
 */
const VICTIM = 'sec-victim';
const ATTACKER = 'sec-attacker';
const SECRET = 'victim-secret-4242';
const APPS = '/var/www/magrathea';
const victimRoot = `${APPS}/${VICTIM}/production`;
const attackerRoot = `${APPS}/${ATTACKER}/production`;

let lab: LabStatus;
let harness: DeployHarness;
let config: GatewayConfig;

function manifest(extra = ''): string {
  return [
    'stack: { php: "8.2", docroot: public }',
    'domains: ["${app}.sec.example.com"]',
    'health: { path: /health.php }',
    'environments:',
    '  production: { branch: master, clusters: [cluster-a] }',
    extra,
  ].join('\n');
}

/** Deploys a release tree (entries by path, with a health page) as app's next release on cluster-a. */
function deployTree(app: string, entries: Record<string, TreeEntry>, yaml = manifest(), vars?: ConfigVars, gateway = config): Promise<{ result: DeployOutcome; lines: string[] }> {
  return harness.deployTree(app, { 'public/health.php': '<?php echo "ok";', ...entries }, yaml, { ...(vars ? { vars } : {}), gateway });
}

const edge = () => lab.edges.find((e) => e.cluster === 'cluster-a')!.url;
const onHost = (argv: string[]) => sshRun(lab, 'a-web-1', argv, { reject: false });

const victimTree: Record<string, TreeEntry> = {
  'public/index.php': '<?php session_start(); $_SESSION["who"] = "victim-session"; echo getenv("SECRET"), "\\n";',
  'data/secret.txt': `${SECRET}\n`,
};

beforeAll(async () => {
  lab = await useLab();
  harness = await openDeployHarness(lab.config, 'security');
  config = harness.config;
  const { result } = await deployTree(VICTIM, victimTree, manifest('shared: [data]'), { app: { SECRET }, clusters: {} });
  expect(result.clusters[0]).toMatchObject({ status: 'live' });
  expect((await curl(edge(), `${VICTIM}.sec.example.com`)).body).toContain(SECRET);
}, 120_000);

afterAll(async () => {
  await harness?.close();
});

describe('the release tree on the hosts', () => {
  it('is root-owned, not writable by the app, and its instance root is open to the app and the web server only', async () => {
    const user = unixUser({ app: VICTIM, env: 'production' });
    expect((await onHost(['stat', '-c', '%U:%G:%a', victimRoot, `${victimRoot}/current/public/index.php`, `${victimRoot}/shared`])).stdout.trim().split('\n')).toEqual([
      `root:${user}:750`,
      'root:root:644',
      `${user}:${user}:750`,
    ]);
    const write = await onHost(['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', 'sh', '-c', `echo x > ${victimRoot}/current/public/index.php`]);
    expect(write.exitCode).not.toBe(0);
    expect(write.stderr).toMatch(/Permission denied/);
    expect((await onHost(['findmnt', '-n', '-o', 'OPTIONS', '-T', APPS])).stdout).toMatch(/\bnosuid\b.*\bnodev\b|\bnodev\b.*\bnosuid\b/);
  });

  it('a setuid file keeps no setuid bit, and a release hook running it gets no root', async () => {
    const { result, lines } = await deployTree(ATTACKER, { x: { copyOf: '/bin/dash', mode: 0o6755 } }, manifest('hooks: { release: "./x -p -c id" }'));
    expect(result.clusters[0]).toMatchObject({ status: 'live' });
    // The lab mounts the apps' tree as a real host should: no warning.
    expect(lines.filter((l) => l.includes('warning'))).toEqual([]);
    expect((await onHost(['stat', '-c', '%a %U', `${attackerRoot}/current/x`])).stdout.trim()).toBe('755 root');
    const id = lines.find((l) => l.includes('uid='));
    expect(id).toBeDefined();
    expect(id).not.toMatch(/uid=0\b|euid=0\b/);
  });

  it('a shared path through a committed link to another app is refused before any copy, chown or delete', async () => {
    const { result } = await deployTree(ATTACKER, { x: { link: victimRoot } }, manifest('shared: [x/releases]'));
    expect(result.clusters[0]).toMatchObject({ status: 'failed' });
    expect(result.clusters[0]!.error).toMatch(/shared path x\/releases: x is a symbolic link/);
    const user = unixUser({ app: VICTIM, env: 'production' });
    expect((await onHost(['stat', '-c', '%U:%G', `${victimRoot}/releases/r1.env`, `${victimRoot}/releases/r1`])).stdout.trim().split('\n')).toEqual([`root:${user}`, 'root:root']);
    expect((await curl(edge(), `${VICTIM}.sec.example.com`)).body).toContain(SECRET);
  });

  it.each(['on the cluster storage', 'on the web host'])('a link the app planted in its shared dir (%s) is not followed when a new shared path is seeded under it', async (where) => {
    const user = unixUser({ app: ATTACKER, env: 'production' });
    const storage = where === 'on the cluster storage' ? config.clusters['cluster-a']!.storage : undefined;
    const gateway: GatewayConfig = { ...config, clusters: { ...config.clusters, 'cluster-a': { ...config.clusters['cluster-a']!, storage } } };
    if (!storage) delete gateway.clusters['cluster-a']!.storage;
    const shared = storage ? `${storage}/${ATTACKER}/production` : `${attackerRoot}/shared`;
    expect((await deployTree(ATTACKER, {}, manifest('shared: [z]'), undefined, gateway)).result.clusters[0]).toMatchObject({ status: 'live' });
    // What the app's PHP could do: its shared dir is its own.
    await onHost(['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', 'ln', '-sfn', '/etc', `${shared}/y`]);
    const { result } = await deployTree(ATTACKER, { 'y/evil/file': 'owned' }, manifest('shared: [y/evil]'), undefined, gateway);
    expect(result.clusters[0]).toMatchObject({ status: 'failed' });
    expect(result.clusters[0]!.error).toMatch(/shared path y\/evil: cannot create it/);
    expect((await onHost(['test', '-e', '/etc/evil'])).exitCode).not.toBe(0);
  });
});

describe('PHP of one app', () => {
  it('cannot list or read another app\'s release, shared files, sessions or logs, and neither can its unix user', async () => {
    await curl(edge(), `${VICTIM}.sec.example.com`); // a session file now exists
    const stored = `${config.clusters['cluster-a']!.storage}/${VICTIM}/production`;
    const targets = [victimRoot, `${victimRoot}/current/public/index.php`, `${victimRoot}/releases`, `${stored}/data/secret.txt`, stored, `${victimRoot}/tmp`, `${victimRoot}/releases/r1.env`, `/var/log/magrathea/${VICTIM}/production/access.log`];
    const probe = `<?php foreach (${JSON.stringify(targets)} as $t) { $r = is_dir($t) ? @scandir($t) : @file_get_contents($t); echo $t, ": ", ($r === false || $r === null) ? "DENIED" : "READ " . json_encode($r), "\\n"; }`;
    const { result } = await deployTree(ATTACKER, { 'public/probe.php': probe });
    expect(result.clusters[0]).toMatchObject({ status: 'live' });
    for (let i = 0; i < 2; i++) {
      const page = await curl(`${edge()}/probe.php?${i}`, `${ATTACKER}.sec.example.com`);
      expect(page.status).toBe(200);
      expect(page.body.trim().split('\n')).toEqual(targets.map((t) => `${t}: DENIED`));
    }
    // Without PHP's open_basedir: the files' owners and modes alone keep the app's user out.
    const user = unixUser({ app: ATTACKER, env: 'production' });
    for (const target of targets) {
      const read = await onHost(['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', 'sh', '-c', 'ls "$1" 2>&1 || cat "$1" 2>&1', 'probe', target]);
      expect(read.stdout).toMatch(/Permission denied/);
      expect(read.stdout).not.toContain(SECRET);
    }
  });

  it('an .htaccess cannot hand its requests to another app\'s pool, nor set PHP settings', async () => {
    const victimPool = fpmSocket(config.clusters['cluster-a']!.paths, { app: VICTIM, env: 'production' });
    const handler = `proxy:unix:${victimPool}|fcgi://magrathea.${VICTIM}.production`;
    const { result } = await deployTree(ATTACKER, {
      'public/h/.htaccess': `SetHandler "${handler}"\n`,
      'public/h/x.php': '<?php echo "secret: ", getenv("SECRET") ?: "none", "\\n";',
      'public/r/.htaccess': `RewriteEngine On\nRewriteRule ^x\\.php$ - [H=${handler}]\n`,
      'public/r/x.php': '<?php echo "secret: ", getenv("SECRET") ?: "none", "\\n";',
      'public/e/.htaccess': `RewriteEngine On\nRewriteRule ^ - [E=PHP_VALUE:auto_prepend_file=${attackerRoot}/current/prepend.php,E=PHP_ADMIN_VALUE:auto_prepend_file=${attackerRoot}/current/prepend.php]\n`,
      'public/e/x.php': '<?php echo "page\\n";',
      'prepend.php': '<?php echo "PREPENDED\\n";',
    });
    expect(result.clusters[0]).toMatchObject({ status: 'live' });
    const host = `${ATTACKER}.sec.example.com`;
    const setHandler = await curl(`${edge()}/h/x.php`, host);
    expect(setHandler.status).toBe(500);
    expect(setHandler.body).not.toContain(SECRET);
    const rewritten = await curl(`${edge()}/r/x.php`, host);
    expect(rewritten.body).not.toContain(SECRET);
    expect(rewritten.status).not.toBe(200);
    const prepended = await curl(`${edge()}/e/x.php`, host);
    expect(prepended).toMatchObject({ status: 200, body: 'page\n' });
    // The victim still serves its own page.
    expect((await curl(edge(), `${VICTIM}.sec.example.com`)).body).toContain(SECRET);
  });

  it('cannot change what Varnish\'s probe gets, for itself or another app: the file is root\'s, beside the instance roots', async () => {
    // A file at the probe's path in its docroot and an .htaccess that answers 503 for that path: neither applies to the Alias.
    const { result } = await deployTree(ATTACKER, {
      'public/.htaccess': 'RewriteEngine On\nRewriteRule ^\\.well-known/magrathea-probe$ - [R=503,L]\n',
      'public/.well-known/magrathea-probe': 'owned\n',
      'public/index.php': '<?php echo "page\\n";',
    });
    expect(result.clusters[0]).toMatchObject({ status: 'live' });
    const web = config.clusters['cluster-a']!;
    const address = web.hosts.find((h) => h.name === 'a-web-1')!.address;
    for (const app of [ATTACKER, VICTIM]) {
      expect(await curl(`http://${address}:${web.ports.web}${PROBE_PATH}`, `${app}.sec.example.com`)).toMatchObject({ status: 200, body: 'ok\n' });
    }
    const probe = probeFile(web.paths);
    expect((await onHost(['stat', '-c', '%U:%G:%a %F', probe])).stdout.trim()).toBe('root:root:644 regular file');
    // Its unix user can neither write the file nor put a name beside it.
    const user = unixUser({ app: ATTACKER, env: 'production' });
    const tried = await onHost(['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', 'sh', '-c', 'echo owned > "$1"; ln -s /etc/shadow "$1.tmp"; cat "$1"', 'probe', probe]);
    expect(tried.stdout).toBe('ok\n');
    expect((await onHost(['test', '-e', `${probe}.tmp`])).exitCode).toBe(1);
  });
});

describe('the logs', () => {
  it('a link to a root-only file planted in the log directory is neither possible for the app nor kept by the next deploy', async () => {
    const logs = `/var/log/magrathea/${ATTACKER}/production`;
    const user = unixUser({ app: ATTACKER, env: 'production' });
    const planted = await onHost(['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', 'ln', '-sfn', '/etc/shadow', `${logs}/php-error.log`]);
    expect(planted.exitCode).not.toBe(0);
    // As on a host whose log directory was the app's before this version: the link is there already.
    await onHost(['sh', '-c', 'rm -f "$1/error.log" && ln -s /etc/shadow "$1/error.log"', 'plant', logs]);
    const { result } = await deployTree(ATTACKER, {});
    expect(result.clusters[0]).toMatchObject({ status: 'live' });
    const [dir, file] = (await onHost(['stat', '-c', '%F %U:%G %a', logs, `${logs}/php-error.log`])).stdout.trim().split('\n');
    expect(dir).toBe(`directory root:${user} 750`);
    expect(file).toMatch(new RegExp(`^regular (empty )?file ${user}:${user} 640$`));
    expect((await onHost(['test', '-L', `${logs}/error.log`])).exitCode).not.toBe(0);
    expect((await onHost(['sh', '-c', 'grep -c "^root:" "$1"/*.log || true', 'count', logs])).stdout).not.toMatch(/:[1-9]/);
  });
});

describe('the release hook', () => {
  it('is stopped at its timeout with everything it started, and the cluster is free for the next deploy at once', async () => {
    const started = Date.now();
    const { result } = await deployTree(ATTACKER, {}, manifest('hooks: { release: "sleep 100042 & sleep 100043", timeout: 3s }'));
    const seconds = (Date.now() - started) / 1000;
    expect(result.clusters[0]).toMatchObject({ status: 'failed' });
    expect(result.clusters[0]!.error).toMatch(/hook: .*timed out after 3 s/);
    expect(seconds).toBeLessThan(60);
    const ps = await onHost(['ps', '-eo', 'args=']);
    expect(ps.stdout).not.toMatch(/sleep 10004[23]/);
    // Another app's deploy on the same cluster goes through right after.
    const next = await deployTree(VICTIM, victimTree, manifest('shared: [data]'), { app: { SECRET }, clusters: {} });
    expect(next.result.clusters[0]).toMatchObject({ status: 'live' });
  }, 120_000);
});

describe('unix users', () => {
  it('a user that another instance (or anyone else) owns is never handed to this one', async () => {
    const app = 'sec-owned';
    const user = unixUser({ app, env: 'production' });
    await onHost(['useradd', '--system', '--no-create-home', '--comment', 'someone else', user]);
    try {
      const { result } = await deployTree(app, {});
      expect(result.clusters[0]).toMatchObject({ status: 'failed' });
      expect(result.clusters[0]!.error).toMatch(new RegExp(`unix user ${user} belongs to someone else, not to ${app}\\.production`));
    } finally {
      await onHost(['userdel', user]);
    }
  });
});

describe('host requirements', () => {
  it('prepare warns when the apps tree is not on a nosuid,nodev mount', async () => {
    // The host's /tmp is an ordinary mount: an instance root there stands for a host set up without the options.
    const user = unixUser({ app: 'sec-mount', env: 'production' });
    const root = '/tmp/magrathea-mount-test/sec-mount/production';
    try {
      const prepared = await sshRun(lab, 'a-web-1', agentArgv('prepare', [user, 'sec-mount.production', root, '/tmp/magrathea-mount-test/logs', 'www-data', 'r1']), { input: '' });
      expect(prepared.stdout).toContain(`warning: ${root} is not on a nosuid,nodev mount`);
    } finally {
      await onHost(['sh', '-c', 'rm -rf /tmp/magrathea-mount-test; userdel "$1"; gpasswd -d www-data "$1"; groupdel "$1"; true', 'clean', user]);
    }
  });
});
