import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/adapters/exec.js';
import type { LabStatus } from '../../../src/lab/status.js';
import { debianSource } from '../../helpers/debian-source.js';
import { freePort } from '../../helpers/free-port.js';
import { gatewayClient, makeUserKeys, startGateway, type TestGateway } from '../../helpers/gateway.js';
import { sshRun, useLab } from '../../helpers/lab.js';

/**
 * A real PHP app that keeps its data in MySQL: WordPress as released (the
 * upstream tarball Debian's archive carries, fetched once per machine),
 * with only a magrathea.yml added, pushed with git through a real
 * `magrathea serve` on the shared lab to both clusters, then installed,
 * logged into and written to through each cluster's edge like a browser
 * would, its data in each cluster's own database.
 */
const APP = 'wp-press';
const DOMAIN: Record<string, string> = { 'cluster-a': `${APP}.example.com`, 'cluster-b': `${APP}.example.net` };
const TITLE: Record<string, string> = { 'cluster-a': 'Alpha Chronicle', 'cluster-b': 'Beta Gazette' };
const ADMIN = { user: 'editor', password: 'correct horse battery staple 42' };

/** The file a WordPress team adds (README shows it): its wp-config.php made from the sample by the build, reading the database from the environment. */
const MANIFEST = 'examples/wordpress/magrathea.yml';

/** A 1x1 PNG, for an upload. */
const PIXEL = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

let lab: LabStatus;
let work: string;
let port: number;
let server: TestGateway | undefined;
let version = '';
/** The upload's path, once made. */
let uploaded = '';
const keys: Record<string, string> = {};
const { ssh, git } = gatewayClient(() => port, keys, () => join(work, 'known_hosts'));

interface Answer {
  status: number;
  headers: Record<string, string[]>;
  body: string;
}

/**
 * One request as a browser of `cluster`'s domain sends it, with the real
 * curl and a cookie jar per browser: to the cluster's edge, or straight to
 * one of its hosts (`via`, an address).
 */
async function browse(jar: string, cluster: string, path: string, options: { via?: string; form?: Record<string, string>; json?: unknown; file?: string; headers?: string[] } = {}): Promise<Answer> {
  const domain = DOMAIN[cluster]!;
  const address = options.via ?? new URL(lab.edges.find((e) => e.cluster === cluster)!.url).hostname;
  const args = ['-s', '-S', '-i', '--max-time', '60', '--resolve', `${domain}:80:${address}`, '-b', jar, '-c', jar];
  for (const header of options.headers ?? []) args.push('-H', header);
  for (const [k, v] of Object.entries(options.form ?? {})) args.push('--data-urlencode', `${k}=${v}`);
  if (options.json !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(options.json));
  if (options.file) args.push('--data-binary', `@${options.file}`);
  const { stdout } = await run('curl', [...args, `http://${domain}${path}`]);
  const split = stdout.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = stdout.slice(0, split).split('\r\n');
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) (headers[line.slice(0, colon).toLowerCase()] ??= []).push(line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine?.split(' ')[1]), headers, body: stdout.slice(split + 4) };
}

const webHosts = (cluster: string) => lab.hosts.filter((h) => h.cluster === cluster && h.roles.includes('web'));
const anonymous = (name: string) => join(work, `${name}.jar`);
/** What a browser asks for a link WordPress gave (plain permalinks: `/?p=5`). */
const pathOf = (link: string) => `${new URL(link).pathname}${new URL(link).search}`;
const titleOf = (html: string) => /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? `(no title in ${html.slice(0, 300)})`;

beforeAll(async () => {
  lab = await useLab();
  work = await mkdtemp(join(tmpdir(), 'magrathea-wordpress-'));
  const source = await debianSource('wordpress');
  version = source.version;
  // The app's repository: the release as its authors publish it, plus magrathea.yml.
  const repo = join(work, 'wordpress');
  await run('cp', ['-R', source.dir, repo]);
  // On a gateway whose default branch is main (`deploy APP` without a branch deploys it).
  await writeFile(join(repo, 'magrathea.yml'), (await readFile(MANIFEST, 'utf8')).replace('branch: master', 'branch: main'));
  await run('git', ['init', '-q', '-b', 'main', repo]);
  // A gateway of the suite's own on the shared lab (its own state directory).
  const config = join(work, 'config');
  await cp(lab.config, config, { recursive: true });
  const gatewayYml = join(config, 'gateway.yml');
  await writeFile(gatewayYml, (await readFile(gatewayYml, 'utf8')).replace(/^state_dir: .*$/m, `state_dir: ${join(work, 'state')}\ndefault_branch: main`));
  await makeUserKeys(lab, work, keys, []);
  port = await freePort();
  server = await startGateway(['--config', config, '--listen', `127.0.0.1:${port}`, '--no-http', '--no-accounting']);
  expect((await ssh('admin', 'apps:create', APP)).exitCode).toBe(0);
  await git(repo, 'admin', 'add', '-A');
  await git(repo, 'admin', 'commit', '-q', '-m', `WordPress ${version}, and magrathea.yml`);
  await git(repo, 'admin', 'remote', 'add', 'magrathea', `ssh://git@127.0.0.1:${port}/${APP}.git`);
}, 600_000);

// The server is stopped by PID here, failed or not; then the app off the hosts and its databases off the db hosts.
afterAll(async () => {
  if (server) await ssh('admin', 'apps:destroy', APP, '--confirm', APP).catch(() => undefined);
  await server?.stop();
  const user = `m_${APP}_production`;
  for (const db of lab?.hosts.filter((h) => h.roles.includes('db')) ?? []) {
    await sshRun(lab, db.name, ['mariadb', '-e', `DROP DATABASE IF EXISTS \`${user}\`; DROP USER IF EXISTS '${user}'@'127.0.0.1';`]).catch(() => undefined);
  }
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

describe('WordPress, pushed with only a magrathea.yml added', () => {
  it('deploys to both clusters: wp-config.php built from the sample, a database made on each', async () => {
    const push = await git(join(work, 'wordpress'), 'admin', 'push', 'magrathea', 'main');
    expect(push.stderr).toMatch(/remote: cluster-a\s+live\s+r1/);
    expect(push.stderr).toMatch(/remote: cluster-b\s+live\s+r1/);
    expect(push.stderr).toMatch(/cluster-a: database m_wp-press_production on a-edge/);
    expect(push.stderr).toMatch(/cluster-b: database m_wp-press_production on b-edge/);
    expect(push.exitCode).toBe(0);
    // Not installed yet: WordPress sends every visitor to its installer.
    const front = await browse(anonymous('first'), 'cluster-a', '/');
    expect(front.status).toBe(302);
    expect(front.headers.location).toEqual([`http://${DOMAIN['cluster-a']}/wp-admin/install.php`]);
  }, 300_000);

  it('installs through each edge, each cluster with its own title: its own database', async () => {
    for (const cluster of ['cluster-a', 'cluster-b']) {
      const jar = anonymous(`install-${cluster}`);
      expect((await browse(jar, cluster, '/wp-admin/install.php?step=1')).body).toMatch(/name="weblog_title"/);
      const done = await browse(jar, cluster, '/wp-admin/install.php?step=2', {
        form: { weblog_title: TITLE[cluster]!, user_name: ADMIN.user, admin_password: ADMIN.password, admin_password2: ADMIN.password, pw_weak: 'on', admin_email: `${ADMIN.user}@example.com`, blog_public: '0', language: '' },
      });
      expect(done.status).toBe(200);
      expect(done.body).toMatch(/<h1>Success!<\/h1>/);
    }
    for (const cluster of ['cluster-a', 'cluster-b']) {
      const front = await browse(anonymous('reader'), cluster, '/');
      expect(front.status).toBe(200);
      expect(titleOf(front.body)).toMatch(new RegExp(`^${TITLE[cluster]}`));
      // Each web host reads the same database as its edge.
      for (const host of webHosts(cluster)) expect(titleOf((await browse(anonymous('reader'), cluster, '/', { via: host.address })).body)).toMatch(new RegExp(`^${TITLE[cluster]}`));
    }
    // The installer, as the health check sees it now.
    expect((await browse(anonymous('reader'), 'cluster-b', '/wp-admin/install.php')).body).toMatch(/Already Installed/);
    // Each title is a row of its cluster's own database, on its db host.
    for (const cluster of ['cluster-a', 'cluster-b']) {
      const db = lab.hosts.find((h) => h.cluster === cluster && h.roles.includes('db'))!;
      const row = await sshRun(lab, db.name, ['mariadb', '-N', '-B', '-e', "SELECT option_value FROM `m_wp-press_production`.wp_options WHERE option_name = 'blogname'"]);
      expect(row.stdout).toBe(`${TITLE[cluster]}\n`);
    }
  }, 120_000);

  it('logs in through cluster-a\'s edge (cookies, pages never cached) and publishes a post that cluster-a serves from every host, and cluster-b never', async () => {
    const jar = join(work, 'editor.jar');
    await writeFile(jar, '');
    const form = await browse(jar, 'cluster-a', '/wp-login.php');
    expect(form.status).toBe(200);
    const login = await browse(jar, 'cluster-a', '/wp-login.php', { form: { log: ADMIN.user, pwd: ADMIN.password, 'wp-submit': 'Log In', redirect_to: `http://${DOMAIN['cluster-a']}/wp-admin/`, testcookie: '1' } });
    expect(login.status).toBe(302);
    expect(login.headers.location).toEqual([`http://${DOMAIN['cluster-a']}/wp-admin/`]);
    expect(login.headers['set-cookie']?.some((c) => c.startsWith('wordpress_logged_in_'))).toBe(true);
    // The dashboard, through the edge with the login's cookies; WordPress marks it uncacheable.
    const dashboard = await browse(jar, 'cluster-a', '/wp-admin/');
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).toMatch(/<title>Dashboard &lsaquo; Alpha Chronicle/);
    expect(dashboard.headers['cache-control']?.join(', ')).toMatch(/no-cache/);
    // The same login holds on every web host of the cluster (its keys are in the cluster's database).
    for (const host of webHosts('cluster-a')) expect((await browse(jar, 'cluster-a', '/wp-admin/', { via: host.address })).status).toBe(200);
    // A post, through the REST API as the editor's browser sends it (cookies and a nonce).
    const nonce = (await browse(jar, 'cluster-a', '/wp-admin/admin-ajax.php?action=rest-nonce')).body.trim();
    expect(nonce).toMatch(/^[0-9a-f]{10}$/);
    const post = await browse(jar, 'cluster-a', '/?rest_route=/wp/v2/posts', { headers: [`X-WP-Nonce: ${nonce}`], json: { title: 'Deployed by Magrathea', content: 'Written through the edge of cluster-a.', status: 'publish' } });
    expect(post.status).toBe(201);
    const link = (JSON.parse(post.body) as { link: string }).link;
    // A reader sees it through the edge, and on each web host; cluster-b's readers never do.
    const reader = anonymous('post-reader');
    const front = await browse(reader, 'cluster-a', '/');
    expect(front.body).toContain('Deployed by Magrathea');
    expect(front.body).not.toMatch(/id="wpadminbar"/);
    expect((await browse(jar, 'cluster-a', '/')).body).toMatch(/id="wpadminbar"/);
    for (const host of webHosts('cluster-a')) {
      expect((await browse(reader, 'cluster-a', pathOf(link), { via: host.address })).body).toContain('Written through the edge of cluster-a.');
    }
    expect((await browse(anonymous('b-reader'), 'cluster-b', '/')).body).not.toContain('Deployed by Magrathea');
    for (const host of webHosts('cluster-b')) expect((await browse(anonymous('b-reader'), 'cluster-b', '/', { via: host.address })).body).not.toContain('Deployed by Magrathea');
  }, 120_000);

  it('keeps an upload in the cluster\'s shared wp-content/uploads: served by every web host of cluster-a, not by cluster-b', async () => {
    const jar = join(work, 'editor.jar');
    const nonce = (await browse(jar, 'cluster-a', '/wp-admin/admin-ajax.php?action=rest-nonce')).body.trim();
    const file = join(work, 'pixel.png');
    await writeFile(file, PIXEL);
    const upload = await browse(jar, 'cluster-a', '/?rest_route=/wp/v2/media', { file, headers: [`X-WP-Nonce: ${nonce}`, 'Content-Type: image/png', 'Content-Disposition: attachment; filename="pixel.png"'] });
    expect(upload.status).toBe(201);
    const path = new URL((JSON.parse(upload.body) as { source_url: string }).source_url).pathname;
    expect(path).toMatch(/^\/wp-content\/uploads\/\d{4}\/\d{2}\/pixel\.png$/);
    for (const host of webHosts('cluster-a')) {
      const got = await browse(anonymous('img'), 'cluster-a', path, { via: host.address });
      expect(got.status).toBe(200);
      expect(got.headers['content-type']).toEqual(['image/png']);
    }
    expect((await browse(anonymous('img'), 'cluster-a', path)).status).toBe(200);
    expect((await browse(anonymous('img'), 'cluster-b', path)).status).toBe(404);
    uploaded = path;
  }, 60_000);

  it('keeps the blog across a new release: the post, the upload and the editor\'s login', async () => {
    const deploy = await ssh('admin', 'deploy', APP);
    expect(deploy.stdout).toMatch(/cluster-a\s+live\s+r2/);
    expect(deploy.exitCode).toBe(0);
    const reader = anonymous('after-redeploy');
    for (const cluster of ['cluster-a', 'cluster-b']) expect(titleOf((await browse(reader, cluster, '/')).body)).toMatch(new RegExp(`^${TITLE[cluster]}`));
    expect((await browse(reader, 'cluster-a', '/')).body).toContain('Deployed by Magrathea');
    for (const host of webHosts('cluster-a')) expect((await browse(reader, 'cluster-a', uploaded, { via: host.address })).status).toBe(200);
    expect((await browse(join(work, 'editor.jar'), 'cluster-a', '/wp-admin/')).status).toBe(200);
  }, 120_000);
});
