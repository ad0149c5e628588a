import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserServer, type Page } from 'playwright-core';
import { run } from '../../../src/adapters/exec.js';
import { stopPrivateRedis } from '../../../src/adapters/redis-server.js';
import type { LabStatus } from '../../../src/lab/status.js';
import { curl } from '../../helpers/curl.js';
import { freePort } from '../../helpers/free-port.js';
import { CLI, gatewayClient, makeUserKeys, startGateway, type TestGateway } from '../../helpers/gateway.js';
import { sshRun, useLab } from '../../helpers/lab.js';

/**
 * The web dashboard in Debian's headless Chromium (driven by
 * playwright-core), on the shared lab: `magrathea serve` with a state
 * directory of its own, one app pushed to both clusters and deployed once
 * more (two releases, so that a cluster can go back), traffic sent through
 * both edges and counted by `magrathea accounting run`. Screenshots go to
 * the suite's temporary directory (kept when MAGRATHEA_ARTIFACTS names
 * another), and to MAGRATHEA_SCREENSHOT when set (the README's picture).
 */
const APP = 'dash-shop';
const SECRET_APP = 'dash-secret';
const HOSTILE = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`;
const CHROMIUM = '/usr/bin/chromium';

let lab: LabStatus;
let work: string;
let config: string;
let state: string;
let artifacts: string;
let port: number;
let server: TestGateway | undefined;
let browserServer: BrowserServer | undefined;
let browser: Browser | undefined;
let base: string;
/** The app's repository, pushed again while a page looks. */
let repo: string;
/** A deploy job of SECRET_APP (its build fails), which mia must not follow through her app. */
let secretJob: string;
/** The deploy job of the push a page followed. */
let shopJob: string | undefined;
const keys: Record<string, string> = {};
const tokens: Record<string, string> = {};
/** What the pages logged as errors (a Content-Security-Policy violation, a failed module), by page URL. */
const pageErrors: string[] = [];
const { ssh, git, newRepo } = gatewayClient(() => port, keys, () => join(work, 'known_hosts'));
const edge = (cluster: string) => lab.edges.find((e) => e.cluster === cluster)!.url;

async function token(who: string, ...args: string[]): Promise<string> {
  const made = await ssh(who, 'tokens:create', '--label', 'dashboard-test', ...args, '--json');
  expect(made.exitCode).toBe(0);
  return (JSON.parse(made.stdout) as { token: string }).token;
}

/** A new browser context (its own cookies), logged in with `secret`; the page is at the apps list. */
async function loggedIn(secret: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.on('dialog', (dialog) => void dialog.accept());
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  await page.goto(`${base}/dashboard/login`);
  await page.fill('#token', secret);
  await Promise.all([page.waitForURL(`${base}/dashboard/`), page.click('button[type=submit]')]);
  await page.waitForSelector('body[data-ready="true"]');
  return { context, page };
}

async function openApp(page: Page, app: string): Promise<void> {
  await page.goto(`${base}/dashboard/apps/${app}`);
  await page.waitForSelector('body[data-ready="true"]');
}

/** An HTTP request with exactly these headers (fetch would add or refuse some: Origin, Cookie). */
function raw(method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((done, fail) => {
    const req = request(`${base}${path}`, { method, headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => done({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

async function liveReleases(): Promise<Record<string, string>> {
  const info = await ssh('admin', 'apps:info', APP, '--json');
  expect(info.exitCode).toBe(0);
  return (JSON.parse(info.stdout) as { live: Record<string, string> }).live;
}

/** The page's document, as functions run in the page see it (a function, never a string: the Content-Security-Policy would not evaluate one). */
type InPage = { document: { getElementById(id: string): { textContent: string | null } } };

/** The deploy view's outcome per cluster: [cluster, status, serving]. */
function resultRows(page: Page): Promise<string[][]> {
  return page.$$eval('#deploy-view .deploy-result tbody tr', (rows) => rows.map((r) => [r.getAttribute('data-cluster')!, r.getAttribute('data-status')!, r.getAttribute('data-serving')!]));
}

/** The deploy view's phases: per table (a cluster, or '' for the whole deploy), per row (a host, or '' for the cluster), each phase's status. */
function phaseCells(page: Page): Promise<Record<string, Record<string, Record<string, string>>>> {
  return page.$$eval('#deploy-view table.phases', (tables) =>
    Object.fromEntries(
      tables.map((t) => [
        t.getAttribute('data-cluster')!,
        Object.fromEntries([...t.querySelectorAll('tbody tr')].map((r) => [r.getAttribute('data-host')!, Object.fromEntries([...r.querySelectorAll('td')].filter((c) => c.getAttribute('data-status')).map((c) => [c.getAttribute('data-phase')!, c.getAttribute('data-status')!]))])),
      ]),
    ),
  );
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  lab = await useLab();
  work = await mkdtemp(join(tmpdir(), 'magrathea-dashboard-'));
  artifacts = process.env.MAGRATHEA_ARTIFACTS ? resolve(process.env.MAGRATHEA_ARTIFACTS, 'dashboard') : join(work, 'artifacts');
  await mkdir(artifacts, { recursive: true });
  config = join(work, 'config');
  state = join(work, 'state');
  await cp(lab.config, config, { recursive: true });
  const gatewayYml = join(config, 'gateway.yml');
  await writeFile(gatewayYml, (await readFile(gatewayYml, 'utf8')).replace(/^state_dir: .*$/m, `state_dir: ${state}`));
  // mia may see and roll back dash-shop only.
  const miaKey = (await makeUserKeys(lab, work, keys, ['mia'])).mia;
  const users = join(config, 'users.yml');
  await writeFile(users, `${await readFile(users, 'utf8')}mia:\n  role: member\n  keys: ["${miaKey}"]\n  apps: ["${APP}"]\n  verbs: [rollback]\n`);
  port = await freePort();
  server = await startGateway(['--config', config, '--listen', `127.0.0.1:${port}`, '--http', '127.0.0.1:0', '--no-accounting']);
  base = server.api!;
  for (const app of [APP, SECRET_APP]) expect((await ssh('admin', 'apps:create', app)).exitCode).toBe(0);

  // One push to both clusters, with an env value that is markup.
  // A database on each cluster (its host's name under another var: hello-php's cluster-b sets DB_HOST itself).
  repo = await newRepo(join(work, 'shop'), APP, 'admin');
  const manifest = join(repo, 'magrathea.yml');
  await writeFile(manifest, `${(await readFile(manifest, 'utf8')).replace('  APP_ENV: production\n', `  APP_ENV: production\n  NOTE: '${HOSTILE}'\n`)}\ndatabase: { engine: mysql, vars: { host: DATABASE_HOST } }\n`);
  await git(repo, 'admin', 'commit', '-q', '-am', 'a note');
  const push = await git(repo, 'admin', 'push', 'magrathea', 'master');
  expect(push.stderr).toMatch(/remote: cluster-b\s+live\s+r1/);
  expect(push.exitCode).toBe(0);
  expect(await liveReleases()).toEqual({ 'production@cluster-a': 'r1', 'production@cluster-b': 'r1' });

  // Traffic through both edges (3 and 2 requests, and one 404), counted.
  for (let i = 0; i < 3; i++) expect((await curl(`${edge('cluster-a')}/?n=${i}`, `${APP}.example.com`)).status).toBe(200);
  for (let i = 0; i < 2; i++) expect((await curl(`${edge('cluster-b')}/?n=${i}`, `${APP}.example.net`)).status).toBe(200);
  expect((await curl(`${edge('cluster-a')}/nothing-here`, `${APP}.example.com`)).status).toBe(404);
  const counted = await run('node', [CLI, 'accounting', 'run', '--config', config], { reject: false, timeout: 120_000 });
  expect(counted.exitCode).toBe(0);

  // A job of the other app: a push whose build fails (no host is touched), its job kept by the queue.
  const secret = await newRepo(join(work, 'secret'), SECRET_APP, 'admin');
  const secretManifest = join(secret, 'magrathea.yml');
  await writeFile(secretManifest, (await readFile(secretManifest, 'utf8')).replace('  - cp config/app.example.php config/app.php\n', '  - "false"\n'));
  await git(secret, 'admin', 'commit', '-q', '-am', 'a build that fails');
  const failed = await git(secret, 'admin', 'push', 'magrathea', 'master');
  expect(failed.exitCode).not.toBe(0);
  secretJob = /remote: deploy ([0-9]+): dash-secret /.exec(failed.stderr)?.[1] ?? `not found in: ${failed.stderr}`;
  expect(secretJob).toMatch(/^[0-9]+$/);

  tokens.admin = await token('admin');
  tokens.mia = await token('mia');
  tokens.brief = await token('admin', '--expires', '1s');
  // Launched as a server, whose process (and so its PID) the suite holds; never a browser that playwright would download.
  browserServer = await chromium.launchServer({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  browser = await chromium.connect(browserServer.wsEndpoint());
}, 300_000);

// The apps taken off the shared lab's hosts and edges; Chromium, the gateway and the gateway's Redis, each stopped by PID, failed or not.
afterAll(async () => {
  for (const app of [APP, SECRET_APP]) {
    const destroyed = server ? await ssh('admin', 'apps:destroy', app, '--confirm', app).catch((e: Error) => ({ exitCode: -1, stderr: e.message })) : undefined;
    if (destroyed && destroyed.exitCode !== 0) process.stderr.write(`apps:destroy ${app}: exit ${destroyed.exitCode}: ${destroyed.stderr}\n`);
  }
  const pid = browserServer?.process().pid;
  await browser?.close().catch(() => undefined);
  await browserServer?.close().catch(() => undefined);
  if (pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await server?.stop();
  if (state) await stopPrivateRedis(state);
  if (work) await rm(work, { recursive: true, force: true });
}, 180_000);

describe('the dashboard', () => {
  it('refuses a wrong token and an expired one, on the login page', async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    for (const [secret, error] of [
      [`mg_${'A'.repeat(43)}`, /this token is not valid/],
      [tokens.brief!, /expired at/],
      ['not a token at all', /this token is not valid/],
    ] as const) {
      await page.goto(`${base}/dashboard/login`);
      await page.fill('#token', secret);
      const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/dashboard/login') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
      expect(answer.status()).toBe(401);
      expect(await page.textContent('#login-error')).toMatch(error);
    }
    expect(await context.cookies()).toEqual([]);
    await screenshot(page, 'login-refused');
    await context.close();
    // The refusals are in the audit log, as the API's are.
    expect((await ssh('admin', 'audit', '-n', '20')).stdout).toMatch(/dashboard: login.*expired-token/);
  });

  it('logs in with a token: an HttpOnly, SameSite=Strict session cookie under /dashboard, never the token; the apps; security headers', async () => {
    const { context, page } = await loggedIn(tokens.admin!);
    const cookies = await context.cookies();
    expect(cookies).toEqual([expect.objectContaining({ name: 'magrathea_session', path: '/dashboard', httpOnly: true, sameSite: 'Strict' })]);
    expect(cookies[0]!.value).not.toContain(tokens.admin!.slice(3));
    expect(cookies[0]!.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await page.$$eval('#apps a', (links) => links.map((a) => a.textContent))).toEqual([SECRET_APP, APP]);
    const answer = await page.goto(`${base}/dashboard/`);
    const headers = answer!.headers();
    expect(headers['content-security-policy']).toMatch(/script-src 'self';/);
    expect(headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(headers['content-security-policy']).not.toMatch(/unsafe-inline/);
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['x-content-type-options']).toBe('nosniff');
    await context.close();
  });

  it("shows an app: both clusters live, releases, charts whose points are usage --json's, config vars masked, markup as text; a deploy followed to its end; a cluster rolled back with its button", async () => {
    const { context, page } = await loggedIn(tokens.admin!);
    await openApp(page, APP);
    /** The deploy view shows the action whose title starts with `title`, ended, with exit 0. */
    const finished = (title: string) =>
      page.waitForFunction(([t]) => {
        const view = (globalThis as unknown as { document: { getElementById(id: string): { querySelector(s: string): { textContent: string | null }; dataset: Record<string, string> } } }).document.getElementById('deploy-view');
        return view.querySelector('.deploy-title').textContent!.startsWith(t!) && view.dataset.exit !== '' && view.dataset.exit !== undefined;
      }, [title], { timeout: 180_000 }).then(async () => expect(await page.getAttribute('#deploy-view', 'data-exit')).toBe('0'));
    const live = () => page.$$eval('#live tbody tr', (rows) => rows.map((r) => [r.getAttribute('data-cluster'), r.querySelector('.release')!.textContent]));
    expect(await live()).toEqual([
      ['cluster-a', 'r1'],
      ['cluster-b', 'r1'],
    ]);

    // The charts (of the last 24 hours, by default) draw usage --json's hours: each point of each cluster's series is that hour's count.
    const usage = JSON.parse((await ssh('admin', 'usage', APP, '--since', '24h', '--json')).stdout) as { hours: { hour: string; cluster: string; requests: number; bytesOut: number; status: Record<string, number> }[]; clusters: { cluster: string; requests: number }[] };
    expect(usage.clusters.map((c) => [c.cluster, c.requests])).toEqual([
      ['cluster-a', expect.any(Number)],
      ['cluster-b', expect.any(Number)],
    ]);
    expect(usage.clusters.find((c) => c.cluster === 'cluster-a')!.requests).toBeGreaterThanOrEqual(4);
    expect(usage.clusters.find((c) => c.cluster === 'cluster-b')!.requests).toBeGreaterThanOrEqual(2);
    const drawn = await page.evaluate(() => {
      const charts = (globalThis as unknown as { magrathea: { charts: Record<string, { data: number[][]; series: { label?: string }[] }> } }).magrathea.charts;
      return Object.fromEntries(Object.entries(charts).map(([name, c]) => [name, { x: c.data[0], series: c.series.slice(1).map((s, i) => ({ label: s.label, values: c.data[i + 1] })) }]));
    });
    const point = (chart: string, label: string, hour: string) => {
      const { x, series } = drawn[chart]!;
      return series.find((s) => s.label === label)!.values![x!.indexOf(Date.parse(hour) / 1000)];
    };
    for (const h of usage.hours) {
      expect([h.hour, h.cluster, point('requests', h.cluster, h.hour)]).toEqual([h.hour, h.cluster, h.requests]);
      expect(point('bytes', `${h.cluster} out`, h.hour)).toBe(h.bytesOut);
    }
    for (const c of usage.clusters) expect(drawn.requests!.series.find((s) => s.label === c.cluster)!.values!.reduce((a, b) => a + b, 0)).toBe(c.requests);
    // Disk per web host: usage --json's, as the accounting run measured it.
    const disk = (usage as unknown as { instances: { disk: Record<string, { bytes: number }> }[] }).instances.flatMap((i) => Object.entries(i.disk).map(([host, d]) => [host, String(d.bytes)]));
    expect(disk.map(([host]) => host).sort()).toEqual(['a-web-1', 'a-web-2', 'b-web-1', 'b-web-2']);
    expect(await page.$$eval('#disk tbody tr', (rows) => rows.map((r) => [r.getAttribute('data-host'), r.getAttribute('data-bytes')]))).toEqual(disk);
    const notFound = usage.hours.reduce((n, h) => n + (h.status['4xx'] ?? 0), 0);
    expect(notFound).toBeGreaterThanOrEqual(1);
    expect(drawn.status!.series.find((s) => s.label === '4xx')!.values!.reduce((a, b) => a + b, 0)).toBe(notFound);

    // An env value that is markup shows as text, and nothing of it ran.
    await page.click('details:has(table[data-cluster="cluster-a"]) summary');
    const values = await page.$$eval('table[data-cluster="cluster-a"] td.value', (cells) => cells.map((c) => c.textContent));
    expect(values).toContain(HOSTILE);
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.$$('table.effective img')).toEqual([]);
    // A deploy from its button, followed to its end as the gateway streams it: r2 on both clusters.
    await page.click('#deploy');
    await finished('deploy');
    expect(await page.textContent('#deploy-view .deploy-lines')).toMatch(/^cluster-a: switching \d+ hosts to r2$[\s\S]*^cluster-b: switching \d+ hosts to r2$[\s\S]*^done$/m);
    // Its job's id, from its first line; each cluster's outcome.
    expect(await page.getAttribute('#deploy-view', 'data-job')).toMatch(/^[0-9]+$/);
    expect(await page.getAttribute('#deploy-view', 'data-kind')).toBe('deploy');
    expect(await resultRows(page)).toEqual([
      ['cluster-a', 'live', 'r2'],
      ['cluster-b', 'live', 'r2'],
    ]);
    expect(await liveReleases()).toEqual({ 'production@cluster-a': 'r2', 'production@cluster-b': 'r2' });
    await page.waitForSelector('#live tr[data-cluster="cluster-b"] .release:text-is("r2")');

    // Back to r1 on cluster-b, with the button of r1's row; the CLI sees it.
    expect(await page.$$eval('#releases tr[data-release="r1"] button', (buttons) => buttons.map((b) => b.getAttribute('data-cluster')))).toEqual(['cluster-a', 'cluster-b']);
    await page.click('#releases tr[data-release="r1"] button[data-cluster="cluster-b"]');
    await finished('rollback');
    expect(await page.getAttribute('#deploy-view', 'data-kind')).toBe('rollback');
    expect(await resultRows(page)).toEqual([['cluster-b', 'live', 'r1']]);
    expect(await liveReleases()).toEqual({ 'production@cluster-a': 'r2', 'production@cluster-b': 'r1' });
    await page.waitForSelector('#live tr[data-cluster="cluster-b"] .release:text-is("r1")');
    expect(await live()).toEqual([
      ['cluster-a', 'r2'],
      ['cluster-b', 'r1'],
    ]);
    await screenshot(page, 'app');
    if (process.env.MAGRATHEA_SCREENSHOT) {
      await mkdir(dirname(resolve(process.env.MAGRATHEA_SCREENSHOT)), { recursive: true });
      await page.screenshot({ path: resolve(process.env.MAGRATHEA_SCREENSHOT), fullPage: true });
    }

    // Over 7 days: the hour of 7 days ago to this one (169 points), the same counts.
    await page.selectOption('#since', '7d');
    await page.waitForSelector('body[data-ready="true"]');
    const week = await page.evaluate(() => (globalThis as unknown as { magrathea: { charts: Record<string, { data: number[][] }> } }).magrathea.charts.requests!.data);
    expect(week[0]!.length).toBe(7 * 24 + 1);
    expect(week.slice(1).flat().reduce((a, b) => a + b, 0)).toBe(usage.clusters.reduce((n, c) => n + c.requests, 0));
    // Nothing on the way was refused by the Content-Security-Policy, nor failed in a module.
    expect(pageErrors).toEqual([]);

    await context.close();
  }, 240_000);

  it('follows a deploy started by git push while the page is open, to its end: each cluster and host through its phases, both clusters live on the new release', async () => {
    const { context, page } = await loggedIn(tokens.admin!);
    await openApp(page, APP);
    expect(await page.textContent('#deploys tbody')).toMatch(/No deploy queued or running/);
    await writeFile(join(repo, 'public', 'watched.txt'), 'pushed while a dashboard looked\n');
    await git(repo, 'admin', 'add', '-A');
    await git(repo, 'admin', 'commit', '-q', '-m', 'pushed while watched');
    const pushing = git(repo, 'admin', 'push', 'magrathea', 'master');
    try {
      // The page's poll notices it, and follows it from its first event.
      await page.waitForSelector('#deploy-view[data-state="running"][data-kind="deploy"]', { timeout: 60_000 });
      const job = (await page.getAttribute('#deploy-view', 'data-job'))!;
      expect(job).toMatch(/^[0-9]+$/);
      shopJob = job;
      expect(await page.textContent('#deploy-view .deploy-title')).toMatch(new RegExp(`^deploy ${job} of ${APP} \\(production\\): master at [0-9a-f]{12}, by admin`));
      // The command line lists it too, as the page does.
      const listed = await ssh('admin', 'deploys', APP, '--json');
      expect(listed.exitCode).toBe(0);
      expect((JSON.parse(listed.stdout) as { id: string }[]).find((j) => j.id === job)).toMatchObject({ kind: 'deploy', env: 'production', ref: 'refs/heads/master', requestedBy: 'admin', state: expect.stringMatching(/^(active|waiting)$/) });
      expect(await page.$$eval('#deploys tbody tr', (rows) => rows.map((r) => r.getAttribute('data-job')))).toContain(job);

      await page.waitForSelector('#deploy-view[data-state="done"]', { timeout: 180_000 });
      const push = await pushing;
      expect(push.exitCode).toBe(0);
      expect(push.stderr).toContain(`remote: deploy ${job}: ${APP} (production)`);
      expect(await liveReleases()).toEqual({ 'production@cluster-a': 'r3', 'production@cluster-b': 'r3' });
      expect(await page.getAttribute('#deploy-view', 'data-exit')).toBe('0');
      expect(await resultRows(page)).toEqual([
        ['cluster-a', 'live', 'r3'],
        ['cluster-b', 'live', 'r3'],
      ]);
      // Each cluster, and each of its web hosts, went through every step; nothing is left running or failed.
      const cells = await phaseCells(page);
      expect(Object.keys(cells).sort()).toEqual(['', 'cluster-a', 'cluster-b']);
      expect(cells['']!['']).toMatchObject({ build: 'done' });
      for (const [cluster, hosts] of [['cluster-a', ['a-web-1', 'a-web-2']], ['cluster-b', ['b-web-1', 'b-web-2']]] as const) {
        expect([cluster, cells[cluster]!['']]).toEqual([cluster, expect.objectContaining({ send: 'done', prepare: 'done', switch: 'done', verify: 'done' })]);
        for (const host of hosts) expect([cluster, host, cells[cluster]![host]]).toEqual([cluster, host, expect.objectContaining({ send: 'done', check: 'done', activate: 'done', verify: 'done' })]);
      }
      const statuses = Object.values(cells).flatMap((rows) => Object.values(rows).flatMap((row) => Object.values(row)));
      expect(statuses.filter((status) => status !== 'done' && status !== 'warning')).toEqual([]);
      expect(await page.textContent('#deploy-view .deploy-lines')).toMatch(/^cluster-a: switching \d+ hosts to r3$[\s\S]*^cluster-b: switching \d+ hosts to r3$[\s\S]*^done$/m);
      // The page's own tables follow: r3 live on both clusters.
      for (const cluster of ['cluster-a', 'cluster-b']) await page.waitForSelector(`#live tr[data-cluster="${cluster}"] .release:text-is("r3")`);
      await screenshot(page, 'deploy-followed');

      // Ended: no longer listed; followed again (the command line, the API), it is shown again from its record.
      expect(JSON.parse((await ssh('admin', 'deploys', APP, '--json')).stdout)).toEqual([]);
      const again = await ssh('admin', 'deploys:follow', APP, job);
      expect(again.exitCode).toBe(0);
      expect(again.stdout).toMatch(new RegExp(`^deploy ${job}: ${APP} \\(production\\) at [0-9a-f]{12} \\(master\\), by admin$`, 'm'));
      expect(again.stdout).toMatch(/^cluster-b +live +r3 /m);
      const streamed = await fetch(`${base}/v1/apps/${APP}/deploys/${job}`, { headers: { Authorization: `Bearer ${tokens.admin}` } });
      expect(streamed.status).toBe(200);
      const objects = (await streamed.text()).trim().split('\n').map((l) => JSON.parse(l) as { event?: { phase: string; status: string; cluster?: string; host?: string }; result?: { release?: string }; exit?: number });
      expect(objects.some((o) => o.event?.phase === 'verify' && o.event.status === 'done' && o.event.cluster === 'cluster-b' && o.event.host === 'b-web-2')).toBe(true);
      expect(objects.slice(-2)).toEqual([{ result: expect.objectContaining({ release: 'r3' }) }, { exit: 0 }]);
    } finally {
      await pushing;
      await context.close();
    }
  }, 300_000);

  it("deploys of another app: a member following its job through her app gets 404, through its app 403; ids that are not ids are refused, naming the field", async () => {
    const { context, page } = await loggedIn(tokens.mia!);
    const cookie = (await context.cookies())[0]!;
    const asMia = { Cookie: `${cookie.name}=${cookie.value}` };
    const shop = `/dashboard/api/v1/apps/${APP}/deploys`;
    // Her app's list, and a job of her app, she may see.
    expect((await raw('GET', shop, asMia)).status).toBe(200);
    expect(shopJob).toMatch(/^[0-9]+$/);
    const own = await raw('GET', `${shop}/${shopJob}`, asMia);
    expect(own.status).toBe(200);
    expect(JSON.parse(own.body.trim().split('\n').at(-1)!)).toEqual({ exit: 0 });
    // The other app's job, through her app: as if it did not exist; through its app: not hers.
    const through = await raw('GET', `${shop}/${secretJob}`, asMia);
    const none = (id: string) => ({ error: `no deploy job ${id} of app ${APP} ("deploys ${APP}" lists those queued or running)`, exit: 2, code: 'no-deploy' });
    expect([through.status, JSON.parse(through.body)]).toEqual([404, none(secretJob)]);
    const unknown = await raw('GET', `${shop}/999999`, asMia);
    expect([unknown.status, JSON.parse(unknown.body)]).toEqual([404, none('999999')]);
    expect((await raw('GET', `/dashboard/api/v1/apps/${SECRET_APP}/deploys/${secretJob}`, asMia)).status).toBe(403);
    expect((await raw('GET', `/dashboard/api/v1/apps/${SECRET_APP}/deploys`, asMia)).status).toBe(403);
    const overSsh = await ssh('mia', 'deploys:follow', APP, secretJob);
    expect([overSsh.exitCode, overSsh.stderr.trim()]).toEqual([2, `no deploy job ${secretJob} of app ${APP} ("deploys ${APP}" lists those queued or running)`]);
    // An admin sees every app, and still gets 404 for a job under an app it is not of.
    expect((await fetch(`${base}/v1/apps/${APP}/deploys/${secretJob}`, { headers: { Authorization: `Bearer ${tokens.admin}` } })).status).toBe(404);
    // Its own app's path shows it: a failed build, exit 1.
    const secret = await fetch(`${base}/v1/apps/${SECRET_APP}/deploys/${secretJob}`, { headers: { Authorization: `Bearer ${tokens.admin}` } });
    expect(secret.status).toBe(200);
    expect((await secret.text()).trim().split('\n').map((l) => JSON.parse(l) as unknown).at(-1)).toMatchObject({ exit: 1 });
    // Ids that are not ids: a shell's, a path's, NUL, a number too long, a negative one, markup: 400, naming the field.
    for (const id of ['1%3Bls', '..%2F..%2Fetc', '%00', '9'.repeat(30), '-1', '1%202', '%3Cscript%3E']) {
      const answer = await raw('GET', `${shop}/${id}`, asMia);
      expect([id, answer.status, (JSON.parse(answer.body) as { error: string }).error]).toEqual([id, 400, expect.stringMatching(/^deploys: --job: .* is not a deploy job id/)]);
    }
    expect((await raw('GET', `${shop}/%E0%A4%A`, asMia)).status).toBe(400);
    expect((await raw('GET', `${shop}/1/2`, asMia)).status).toBe(404);
    await page.close();
    await context.close();
  }, 120_000);

  it('config vars are masked, and the dashboard never reveals them', async () => {
    expect((await ssh('admin', 'config:set', `${APP}@cluster-a`, 'API_KEY=s3cret-value')).exitCode).toBe(0);
    const { context, page } = await loggedIn(tokens.admin!);
    await openApp(page, APP);
    expect(await page.$$eval('#vars tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent)))).toEqual([['API_KEY', '@cluster-a', '********']]);
    expect(await page.content()).not.toContain('s3cret-value');
    const cookie = (await context.cookies())[0]!;
    const revealed = await raw('GET', `/dashboard/api/v1/apps/${APP}/config?cluster=cluster-a&reveal=1`, { Cookie: `${cookie.name}=${cookie.value}` });
    expect(revealed.status).toBe(400);
    expect(revealed.body).not.toContain('s3cret-value');
    await context.close();
  });

  it("shows the app's last log lines from its web hosts, streamed", async () => {
    const { context, page } = await loggedIn(tokens.admin!);
    await openApp(page, APP);
    await page.click('#logs-last');
    await page.waitForSelector('#logs[data-exit="0"]', { timeout: 60_000 });
    const logs = (await page.textContent('#logs'))!;
    expect(logs).toMatch(/^cluster-a\/a-web-[12] .*"GET \/\?n=0 HTTP\/1\.1" 200 /m);
    expect(logs).toMatch(/^cluster-b\/b-web-[12] .*"GET \/\?n=1 HTTP\/1\.1" 200 /m);
    expect(logs).toMatch(/^cluster-a\/a-web-[12] .*"GET \/nothing-here HTTP\/1\.1" 404 /m);
    await context.close();
  });

  it('follows the logs live: a request made once following began shows in the page', async () => {
    const { context, page } = await loggedIn(tokens.admin!);
    await openApp(page, APP);
    await page.click('#logs-follow');
    // Following began: the hosts' last lines are in.
    await page.waitForFunction(() => /"GET \/\?n=0 HTTP/.test((globalThis as unknown as InPage).document.getElementById('logs').textContent ?? ''), undefined, { timeout: 60_000 });
    const marker = `followed-${Date.now()}`;
    expect(await page.textContent('#logs')).not.toContain(marker);
    // Asked again until seen (at most 10 times): each web host's tail starts on its own, a moment apart.
    let seen = false;
    for (let i = 0; i < 10 && !seen; i++) {
      expect((await curl(`${edge('cluster-a')}/?live=${marker}-${i}`, `${APP}.example.com`)).status).toBe(200);
      seen = await page.waitForFunction((m) => ((globalThis as unknown as InPage).document.getElementById('logs').textContent ?? '').includes(m), marker, { timeout: 3_000 }).then(() => true, () => false);
    }
    expect(seen).toBe(true);
    expect(await page.textContent('#logs')).toMatch(new RegExp(`^cluster-a/a-web-[12] .*"GET /\\?live=${marker}-\\d+ HTTP/1\\.1" 200 `, 'm'));
    // Still following; Stop ends it.
    expect(await page.getAttribute('#logs', 'data-exit')).toBe('');
    expect(await page.isVisible('#logs-stop')).toBe(true);
    await page.click('#logs-stop');
    await context.close();
  }, 120_000);

  it("shows each cluster's database size as db:info --json measures it, and never a password", async () => {
    type Info = { databases: { cluster: string; host: string; name: string; bytes: number; exists: boolean; password: string }[] };
    const before = JSON.parse((await ssh('admin', 'db:info', APP, '--json')).stdout) as Info;
    expect(before.databases.map((d) => [d.cluster, d.exists])).toEqual([
      ['cluster-a', true],
      ['cluster-b', true],
    ]);
    // A table with rows in cluster-a's database (its statistics brought up to date), none in cluster-b's: two sizes.
    const a = before.databases.find((d) => d.cluster === 'cluster-a')!;
    const table = `\`${a.name}\`.notes`;
    const rows = Array.from({ length: 40 }, (_, i) => `(${i}, REPEAT('x', 1000))`).join(', ');
    await sshRun(lab, a.host, ['mariadb', '-e', `CREATE TABLE ${table} (id INT PRIMARY KEY, body TEXT); INSERT INTO ${table} VALUES ${rows}; ANALYZE TABLE ${table};`]);
    const info = JSON.parse((await ssh('admin', 'db:info', APP, '--json')).stdout) as Info;
    const sizes = info.databases.map((d) => [d.cluster, String(d.bytes)]);
    expect(Number(sizes[0]![1])).toBeGreaterThan(0);
    expect(sizes[0]![1]).not.toBe(sizes[1]![1]);

    const { context, page } = await loggedIn(tokens.admin!);
    await openApp(page, APP);
    expect(await page.$$eval('#databases tbody tr', (trs) => trs.map((r) => [r.getAttribute('data-cluster'), r.getAttribute('data-bytes')]))).toEqual(sizes);
    expect(await page.textContent('#databases tr[data-cluster="cluster-a"] td.num')).toMatch(/^\d+\.\d (KiB|MiB)$/);
    // The passwords (db:info --reveal) are nowhere: not in the page, not in the API's answer to it; reveal is refused.
    const revealed = JSON.parse((await ssh('admin', 'db:info', APP, '--reveal', '--json')).stdout) as Info;
    const cookie = (await context.cookies())[0]!;
    const session = { Cookie: `${cookie.name}=${cookie.value}` };
    const answer = await raw('GET', `/dashboard/api/v1/apps/${APP}/db`, session);
    expect(answer.status).toBe(200);
    for (const d of revealed.databases) {
      expect(d.password).not.toBe('********');
      expect(d.password.length).toBeGreaterThanOrEqual(16);
      expect(await page.content()).not.toContain(d.password);
      expect(answer.body).not.toContain(d.password);
    }
    const refused = await raw('GET', `/dashboard/api/v1/apps/${APP}/db?reveal=1`, session);
    expect(refused.status).toBe(400);
    expect(revealed.databases.some((d) => refused.body.includes(d.password))).toBe(false);
    await context.close();
  }, 120_000);

  it('a member sees only their apps, and gets 403 for another app, through the pages and the API', async () => {
    const { context, page } = await loggedIn(tokens.mia!);
    expect(await page.$$eval('#apps a', (links) => links.map((a) => a.textContent))).toEqual([APP]);
    const other = await page.goto(`${base}/dashboard/apps/${SECRET_APP}`);
    expect(other!.status()).toBe(403);
    expect(await page.textContent('#error')).toMatch(/mia has no access to app dash-secret/);
    const cookie = (await context.cookies())[0]!;
    const asMia = { Cookie: `${cookie.name}=${cookie.value}` };
    expect((await raw('GET', `/dashboard/api/v1/apps/${SECRET_APP}`, asMia)).status).toBe(403);
    expect((await raw('GET', `/dashboard/api/v1/apps/${SECRET_APP}/usage`, asMia)).status).toBe(403);
    // Her own app, without the config verb: the page opens, the config vars say why not.
    await openApp(page, APP);
    expect(await page.textContent('#vars tbody')).toMatch(/mia may not config dash-shop/);
    await context.close();
  });

  it('hostile requests: no cookie, a forged cookie, a POST without the CSRF token, a cross-site POST; nothing is rolled back', async () => {
    const before = await liveReleases();
    const rollback = `/dashboard/api/v1/apps/${APP}/rollback`;
    // Were it taken, r2 would go back live on cluster-b (at r1 since the rollback above).
    const body = JSON.stringify({ cluster: 'cluster-b', release: 'r2' });
    const json = { 'Content-Type': 'application/json' };
    // No cookie: the pages send to the login, the API answers 401.
    expect(await raw('GET', '/dashboard/', {})).toMatchObject({ status: 303, headers: { location: '/dashboard/login' } });
    expect((await raw('GET', `/dashboard/api/v1/apps`, {})).status).toBe(401);
    expect((await raw('POST', rollback, { ...json, Origin: base }, body)).status).toBe(401);
    // A cookie of no session (made up, or the token itself): the same, and the cookie is cleared.
    for (const forged of ['A'.repeat(43), tokens.admin!, '../../x', '']) {
      const answer = await raw('GET', '/dashboard/api/v1/apps', { Cookie: `magrathea_session=${forged}` });
      expect([forged, answer.status]).toEqual([forged, 401]);
    }
    expect(String((await raw('GET', '/dashboard/', { Cookie: `magrathea_session=${'B'.repeat(43)}` })).headers['set-cookie'])).toMatch(/magrathea_session=; .*Max-Age=0/);

    const { context, page } = await loggedIn(tokens.admin!);
    const cookie = (await context.cookies())[0]!;
    const session = { Cookie: `${cookie.name}=${cookie.value}` };
    const csrf = (await page.getAttribute('meta[name="csrf-token"]', 'content'))!;
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Same origin, but no CSRF token, or another one.
    expect((await raw('POST', rollback, { ...session, ...json, Origin: base, 'Sec-Fetch-Site': 'same-origin' }, body)).status).toBe(403);
    expect((await raw('POST', rollback, { ...session, ...json, Origin: base, 'X-CSRF-Token': 'C'.repeat(43) }, body)).status).toBe(403);
    // The right CSRF token, from another site, or saying nothing of where it comes from.
    expect((await raw('POST', rollback, { ...session, ...json, Origin: 'http://evil.example', 'X-CSRF-Token': csrf }, body)).status).toBe(403);
    expect((await raw('POST', rollback, { ...session, ...json, Origin: base, 'Sec-Fetch-Site': 'cross-site', 'X-CSRF-Token': csrf }, body)).status).toBe(403);
    expect((await raw('POST', rollback, { ...session, ...json, 'X-CSRF-Token': csrf }, body)).status).toBe(403);
    // Logging out needs the token too; a GET changes nothing.
    expect((await raw('POST', '/dashboard/logout', { ...session, 'Content-Type': 'application/x-www-form-urlencoded', Origin: base }, 'csrf=nope')).status).toBe(403);
    expect((await raw('GET', '/dashboard/logout', session)).status).toBe(405);
    expect(await liveReleases()).toEqual(before);
    // The dashboard calls only its own few routes, and leaves /v1 (and its 404s) to the API.
    expect((await raw('GET', '/dashboard/api/v1/audit', session)).status).toBe(404);
    expect((await raw('GET', '/v1/apps', session)).status).toBe(401);
    expect((await raw('GET', '/v1/dashboard', { Authorization: `Bearer ${tokens.admin}` })).status).toBe(404);

    // Logout (its button) ends the session: the old cookie opens nothing.
    await Promise.all([page.waitForURL(`${base}/dashboard/login`), page.click('header button[type=submit]')]);
    expect(await context.cookies()).toEqual([]);
    expect((await raw('GET', '/dashboard/api/v1/apps', session)).status).toBe(401);
    await context.close();
  });

  it('a revoked token ends its sessions at their next request', async () => {
    const secret = await token('mia');
    const { context, page } = await loggedIn(secret);
    const id = (JSON.parse((await ssh('mia', 'tokens:list', '--json')).stdout) as { id: string; label: string }[]).at(-1)!.id;
    expect((await ssh('mia', 'tokens:revoke', id)).exitCode).toBe(0);
    await page.goto(`${base}/dashboard/`);
    expect(page.url()).toBe(`${base}/dashboard/login`);
    await context.close();
  });

  // Last: it spends this address's logins for a while.
  it('limits logins per client address, before looking at the token', async () => {
    const form = { 'Content-Type': 'application/x-www-form-urlencoded', Origin: base };
    // At once: the bucket refills one login every 6 s, by fractions, so that one sent a moment later may find a whole one again.
    const statuses = (await Promise.all(Array.from({ length: 12 }, () => raw('POST', '/dashboard/login', form, `token=mg_${'D'.repeat(43)}`)))).map((r) => r.status);
    // Refused for the token while the address has logins left (the suite's own took some), then for the address.
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
    // Even the right token waits.
    const refused = await raw('POST', '/dashboard/login', form, `token=${tokens.admin}`);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.headers['set-cookie']).toBeUndefined();
  });
});
