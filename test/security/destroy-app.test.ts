import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import type { LabStatus } from '../../src/lab/status.js';
import { curl } from '../helpers/curl.js';
import { freePort } from '../helpers/free-port.js';
import { labAdminKey, startGateway, type TestGateway } from '../helpers/gateway.js';
import { putFile, sshRun, useOwnLab } from '../helpers/lab.js';

/**
 * `apps:destroy` on a lab of its own (2 clusters x 2 web hosts; this suite
 * breaks a pool file): `shop` (production on both clusters, staging on
 * cluster-a) is removed from every host while `keep` goes on serving.
 */
const WEB = ['a-web-1', 'a-web-2', 'b-web-1', 'b-web-2'];
const EDGES = ['a-edge', 'b-edge'];
let lab: LabStatus;
let work: string;
let config: string;
let port: number;
let api: string;
let token: string;
let server: TestGateway | undefined;
let sleeper: number | undefined;

function sshArgs(): string[] {
  return ['-p', String(port), '-i', labAdminKey(lab), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${join(work, 'known_hosts')}`, 'git@127.0.0.1'];
}

function magrathea(...command: string[]) {
  return run('ssh', [...sshArgs(), ...command], { reject: false, timeout: 180_000 });
}

function git(repo: string, ...args: string[]) {
  return run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    reject: false,
    timeout: 180_000,
    env: { GIT_SSH_COMMAND: ['ssh', ...sshArgs().slice(0, -1)].join(' ') },
  });
}

async function push(app: string, branch: string): Promise<void> {
  const repo = join(work, app);
  const result = await git(repo, 'push', 'magrathea', branch);
  expect({ app, branch, exit: result.exitCode, tail: result.exitCode === 0 ? '' : result.stderr.slice(-2000) }).toEqual({ app, branch, exit: 0, tail: '' });
}

const edge = (cluster: string) => lab.edges.find((e) => e.cluster === cluster)!.url;
const on = (host: string, script: string) => sshRun(lab, host, ['sh', '-c', script], { reject: false });

/** Every Magrathea-owned path on a host, with size and mtime (logs by name: probes write them): what "untouched" is checked against. */
async function inventory(host: string, pattern: string): Promise<string> {
  const dirs = '/etc/apache2/magrathea.d /etc/php/8.2/fpm/pool.d /etc/varnish/magrathea /etc/haproxy/magrathea.d /var/www/magrathea /var/log/magrathea/*/ /srv/magrathea';
  const listed = await on(host, `find ${dirs} -path '*/.magrathea' -prune -o -print 2>/dev/null | grep -E '${pattern}' | sort | while read -r p; do case $p in /var/log/*) echo "$p" ;; *) stat -c '%n %s %Y' "$p" ;; esac; done`);
  return listed.stdout;
}

const SHOP = { 'cluster-a': ['shop.example.com', 'www.shop.example.com', 'staging.shop.example.com'], 'cluster-b': ['shop.example.net'] };
const KEEP = { 'cluster-a': 'keep.example.com', 'cluster-b': 'keep.example.net' };

beforeAll(async () => {
  lab = await useOwnLab('destroy', { clusters: 2, webHosts: 2 }, [181, 183, 185, 187, 189, 191, 193, 195]);
  work = await mkdtemp(join(tmpdir(), 'magrathea-destroy-'));
  config = join(work, 'config');
  await cp(lab.config, config, { recursive: true });
  port = await freePort();
  server = await startGateway(['--config', config, '--listen', `127.0.0.1:${port}`, '--http', '127.0.0.1:0', '--no-accounting']);
  api = server.api!;
  for (const app of ['keep', 'shop']) {
    expect((await magrathea('apps:create', app)).exitCode).toBe(0);
    const repo = join(work, app);
    await cp('examples/hello-php', repo, { recursive: true });
    await run('git', ['init', '-q', '-b', 'master', repo]);
    await git(repo, 'add', '-A');
    await git(repo, 'commit', '-q', '-m', 'first');
    await git(repo, 'remote', 'add', 'magrathea', `ssh://git@127.0.0.1:${port}/${app}.git`);
    await push(app, 'master');
  }
  await git(join(work, 'shop'), 'branch', 'develop');
  await push('shop', 'develop');
  token = (JSON.parse((await magrathea('tokens:create', '--label', 'destroy', '--json')).stdout) as { token: string }).token;
}, 300_000);

// The server and the process this suite starts on a host are stopped by PID, failed or not; the lab by the run's teardown.
afterAll(async () => {
  if (sleeper) await run('kill', ['-KILL', String(sleeper)], { reject: false });
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

async function expectServed(): Promise<void> {
  for (const [cluster, domain] of Object.entries(KEEP)) expect(`${cluster} ${(await curl(edge(cluster), domain)).status}`).toBe(`${cluster} 200`);
}

describe('apps:destroy', () => {
  it('a failing check on one host leaves every host and the gateway as they were', async () => {
    const pool = '/etc/php/8.2/fpm/pool.d/magrathea-keep.production.conf';
    const good = (await sshRun(lab, 'a-web-2', ['cat', pool])).stdout;
    const before = await Promise.all([...WEB, ...EDGES].map((h) => inventory(h, '.')));
    const info = (await magrathea('apps:info', 'shop', '--json')).stdout;
    await putFile(lab, 'a-web-2', pool, `${good}\nthis line is not FPM configuration\n`);
    try {
      const result = await magrathea('apps:destroy', 'shop', '--confirm', 'shop');
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/apps:destroy: cluster-a: a-web-2: check: fpm check failed: .*; nothing was changed on its hosts\nthe gateway keeps shop/);
    } finally {
      await putFile(lab, 'a-web-2', pool, good);
    }
    const after = await Promise.all([...WEB, ...EDGES].map((h) => inventory(h, '.')));
    // The pool file was rewritten by the test itself: compare its name only.
    const strip = (s: string) => s.replace(/^(\S*magrathea-keep\.production\.conf) .*$/m, '$1');
    expect(after.map(strip)).toEqual(before.map(strip));
    expect(before.join('')).toContain('/var/www/magrathea/shop/staging/current');
    expect((await magrathea('apps:info', 'shop', '--json')).stdout).toBe(info);
    expect((await curl(edge('cluster-b'), 'shop.example.net')).status).toBe(200);
    expect((await curl(edge('cluster-a'), 'staging.shop.example.com')).status).toBe(200);
    await expectServed();
  });

  it('a web host whose FPM reload would cut other apps\' requests in flight is refused before anything changes', async () => {
    const conf = '/etc/php/8.2/fpm/php-fpm.conf';
    const good = (await sshRun(lab, 'a-web-1', ['cat', conf])).stdout;
    // cluster-a is the first destroyed: refused there, nothing of the app is touched anywhere.
    const info = (await magrathea('apps:info', 'shop', '--json')).stdout;
    await putFile(lab, 'a-web-1', conf, good.replace(/^process_control_timeout = .*$/m, 'process_control_timeout = 0'));
    try {
      const result = await magrathea('apps:destroy', 'shop', '--confirm', 'shop');
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/cluster-a: a-web-1: check: PHP-FPM 8\.2 has process_control_timeout = 0s/);
    } finally {
      await putFile(lab, 'a-web-1', conf, good);
    }
    expect((await magrathea('apps:info', 'shop', '--json')).stdout).toBe(info);
    expect((await curl(edge('cluster-a'), 'shop.example.com')).status).toBe(200);
    expect((await curl(edge('cluster-b'), 'shop.example.net')).status).toBe(200);
  });

  it('removes the app from every host through DELETE /v1/apps/APP, and says what it removed', async () => {
    const keepBefore = await Promise.all([...WEB, ...EDGES].map((h) => inventory(h, '[/-]keep[./]')));
    // What an app could have left: a link out of its tree, a process of its user. (www-data is in every instance's group.)
    await sshRun(lab, 'a-web-1', ['sh', '-c', 'mkdir -p /root/canary && echo keep > /root/canary/file && ln -s /root/canary /srv/magrathea/shop/production/storage/out && ln -s /root/canary/file /var/log/magrathea/shop/production/out.log']);
    sleeper = Number((await sshRun(lab, 'a-web-1', ['sh', '-c', 'setpriv --reuid=m_shop_production --regid=m_shop_production --clear-groups sleep 300 </dev/null >/dev/null 2>&1 & echo $!'])).stdout.trim());
    expect(sleeper).toBeGreaterThan(1);

    const started = Date.now();
    const response = await fetch(`${api}/v1/apps/shop?confirm=shop`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(180_000) });
    const seconds = (Date.now() - started) / 1000;
    const body = (await response.json()) as { output?: string; error?: string };
    expect({ status: response.status, error: body.error }).toEqual({ status: 200, error: undefined });
    process.stdout.write(`destroy of shop (3 instances, 2 clusters x 2 web hosts) in ${seconds.toFixed(1)} s:\n${body.output}`);
    const lines = body.output!.trim().split('\n');
    expect(lines).toHaveLength(4);
    // www-data is in each instance's group: userdel leaves the group, which is removed after.
    expect(lines[0]).toMatch(/^cluster-a shop\.production: a-web-1, a-web-2: vhost, pool, files, logs, user m_shop_production, group; a-edge: vcl, haproxy backend, main\.vcl, boot\.cli, hosts\.map, session user magrathea\.shop\.production(, \d+ session\(s\))? \([\d.]+ s\)$/);
    expect(lines[1]).toMatch(/^cluster-a shop\.staging: a-web-1, a-web-2: vhost, pool, files, logs, user m_shop_staging, group; a-edge: vcl, haproxy backend, main\.vcl, boot\.cli, hosts\.map, session user magrathea\.shop\.staging/);
    expect(lines[2]).toMatch(/^cluster-b shop\.production: b-web-1, b-web-2: vhost, pool, files, logs, user m_shop_production, group; b-edge: vcl, haproxy backend, main\.vcl, boot\.cli, hosts\.map, session user magrathea\.shop\.production/);
    expect(lines[3]).toMatch(/^gateway: destroyed shop: its repository, releases, config vars and history \(3 instance\(s\) removed from 2 cluster\(s\) in [\d.]+ s\)$/);

    for (const host of WEB) {
      expect(`${host}: ${await inventory(host, 'shop')}`).toBe(`${host}: `);
      for (const name of ['m_shop_production', 'm_shop_staging']) {
        expect(`${host} ${(await on(host, `id -u ${name}`)).exitCode}`).toBe(`${host} 1`);
        expect(`${host} ${(await on(host, `getent group ${name}`)).exitCode}`).toBe(`${host} 2`);
      }
      expect((await on(host, 'ls /run/php')).stdout).not.toContain('shop');
    }
    for (const host of EDGES) {
      expect(`${host}: ${await inventory(host, 'shop')}`).toBe(`${host}: `);
      const text = (await on(host, 'cat /etc/varnish/magrathea/main.vcl /etc/haproxy/magrathea.d/*')).stdout;
      expect(text).not.toMatch(/shop/);
      // main.vcl still routes the app that stays to its label.
      expect(text).toMatch(/return \(vcl\(magrathea_label_keep_production\)\)/);
    }
    // The links were removed, not followed; the process is gone.
    expect((await sshRun(lab, 'a-web-1', ['cat', '/root/canary/file'])).stdout).toBe('keep\n');
    expect(await run('kill', ['-0', String(sleeper)], { reject: false })).toMatchObject({ exitCode: 1 });
    sleeper = undefined;

    expect(await Promise.all([...WEB, ...EDGES].map((h) => inventory(h, '[/-]keep[./]')))).toEqual(keepBefore);
    await expectServed();
    for (const [cluster, domains] of Object.entries(SHOP)) {
      for (const domain of domains) {
        const page = await curl(edge(cluster), domain);
        expect(`${domain} ${page.status} ${page.body.trim()}`).toBe(`${domain} 404 No app serves this host.`);
      }
    }
    expect((await magrathea('apps:list')).stdout).toBe('keep\n');
    expect((await magrathea('apps:info', 'shop')).exitCode).toBe(2);
  }, 180_000);

  it('destroying again finds nothing and succeeds; an app never deployed is destroyed as before', async () => {
    const again = await magrathea('apps:destroy', 'shop', '--confirm', 'shop');
    expect(again).toMatchObject({ exitCode: 0, stdout: 'gateway: no app shop, and no host serves it: nothing to destroy\n' });
    expect((await magrathea('apps:create', 'idle')).exitCode).toBe(0);
    const idle = await magrathea('apps:destroy', 'idle', '--confirm', 'idle');
    expect(idle).toMatchObject({ exitCode: 0, stdout: 'gateway: destroyed idle: its repository, releases, config vars and history (it was on no host)\n' });
    await expectServed();
  });

  it('a cluster that cannot be reached stops the destroy, and the gateway keeps the app', async () => {
    expect((await magrathea('apps:create', 'shop')).exitCode).toBe(0);
    await git(join(work, 'shop'), 'checkout', '-q', 'master');
    await push('shop', 'master');
    const clusters = await readFile(join(config, 'clusters.yml'), 'utf8');
    const broken = clusters.replace(/( {4}b-web-2: \{ address: [\d.]+,(?: egress: [\d.]+,)? roles: \[web\])/, '$1, ssh: { port: 1 }');
    // A test that edits nothing would pass for the wrong reason.
    expect(broken).not.toBe(clusters);
    await writeFile(join(config, 'clusters.yml'), broken);
    try {
      const result = await magrathea('apps:destroy', 'shop', '--confirm', 'shop');
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toMatch(/^cluster-a shop\.production: a-web-1, a-web-2: vhost, pool, files, logs, user m_shop_production, group; a-edge: /);
      expect(result.stderr).toMatch(/cluster-b: unreachable: b-web-2: connect: cannot reach host b-web-2: .*; nothing was changed on its hosts\nthe gateway keeps shop/);
      expect((await curl(edge('cluster-b'), 'shop.example.net')).status).toBe(200);
      expect((await magrathea('apps:list')).stdout).toBe('keep\nshop\n');
    } finally {
      await cp(join(lab.config, 'clusters.yml'), join(config, 'clusters.yml'));
    }
    const done = await magrathea('apps:destroy', 'shop', '--confirm', 'shop');
    expect(done.exitCode).toBe(0);
    expect(done.stdout).toMatch(/^cluster-b shop\.production: b-web-1, b-web-2: vhost, pool, files, logs, user m_shop_production, group; b-edge: .*\ngateway: destroyed shop: .*\(1 instance\(s\) removed from 1 cluster\(s\)/);
    expect((await curl(edge('cluster-b'), 'shop.example.net')).status).toBe(404);
    await expectServed();
  }, 180_000);
});
