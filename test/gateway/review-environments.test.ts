/**
 * Review environments through the real gateway (`magrathea serve`, the
 * OpenSSH client, git push) on the shared lab: a push of `review/Fix-1`
 * makes its own instance, served on its `${branch}` domain beside
 * production; a branch of the same slug, and branch names crafted to
 * escape, are refused; deleting the branch takes the instance off every
 * host (its database too) and production keeps serving. Two deploys in
 * all.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { stopPrivateRedis } from '../../src/adapters/redis-server.js';
import type { LabStatus } from '../../src/lab/status.js';
import { curl } from '../helpers/curl.js';
import { freePort } from '../helpers/free-port.js';
import { gatewayClient, labAdminKey, startGateway, type TestGateway } from '../helpers/gateway.js';
import { sshRun, useLab } from '../helpers/lab.js';

const APP = 'rev-shop';
const PRODUCTION = `${APP}.rev.example.com`;
const REVIEW = `fix-1.review.${APP}.example.com`;
const INSTANCE = 'review-fix-1';
const DB = `m_${APP}_${INSTANCE}`;

let lab: LabStatus;
let work: string;
let state: string;
let port: number;
let server: TestGateway | undefined;
let repo: string;
const keys: Record<string, string> = {};

const { sshCommand, git } = gatewayClient(() => port, keys, () => join(work, 'known_hosts'));
const admin = (...argv: string[]) => run('ssh', [...sshCommand('admin').slice(1), 'git@127.0.0.1', ...argv], { reject: false, input: '', timeout: 120_000 });
const edge = () => lab.edges.find((e) => e.cluster === 'cluster-a')!.url;
const hostsOf = (roles: LabStatus['hosts'][number]['roles'][number]) => lab.hosts.filter((h) => h.cluster === 'cluster-a' && h.roles.includes(roles)).map((h) => h.name);
/** The review instance's database and database user on cluster-a's db host, as root sees them. */
const databaseLeft = async () =>
  (await sshRun(lab, hostsOf('db')[0]!, ['mariadb', '-N', '-B', '-e', `SELECT 'database' FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB}' UNION SELECT 'user' FROM mysql.user WHERE User = '${DB}'`])).stdout.split('\n').filter(Boolean);

const FILES: Record<string, string> = {
  'magrathea.yml': [
    'stack: { php: "8.2", docroot: public }',
    'domains: ["${app}.rev.example.com"]',
    'health: { path: /health.php }',
    'env: { WHO: "${env}" }',
    'environments:',
    '  production: { branch: master, clusters: [cluster-a] }',
    '  review:',
    '    branch: "review/*"',
    '    clusters: [cluster-a]',
    '    domains: ["${branch}.review.${app}.example.com"]',
    '    database: { engine: mysql }',
    '',
  ].join('\n'),
  'public/health.php': '<?php echo "ok";',
  'public/index.php': '<?php header("Cache-Control: no-store"); echo getenv("WHO"), " ", getenv("SHARED") ?: "-", " ", trim(file_get_contents(__DIR__ . "/../content.txt")), "\\n";',
  'content.txt': 'master\n',
};

/** What of the review instance each host of cluster-a still has: files, vhost, pool, logs and unix user on web hosts; VCL and HAProxy entries on the edge. */
async function leftOnHosts(): Promise<string[]> {
  const found: string[] = [];
  for (const host of hostsOf('web')) {
    const result = await sshRun(lab, host, ['sh', '-c', `find /var/www/magrathea/${APP} /var/log/magrathea/${APP} /etc/apache2 /etc/php -name '*${INSTANCE}*' 2>/dev/null; getent passwd m_${APP}_${INSTANCE}; true`]);
    found.push(...result.stdout.split('\n').filter(Boolean).map((l) => `${host}:${l}`));
  }
  for (const host of hostsOf('balancer')) {
    const result = await sshRun(lab, host, ['sh', '-c', `grep -rl -e '${INSTANCE}' -e '${REVIEW}' /etc/varnish /etc/haproxy 2>/dev/null; true`]);
    found.push(...result.stdout.split('\n').filter(Boolean).map((l) => `${host}:${l}`));
  }
  return found;
}

beforeAll(async () => {
  lab = await useLab();
  work = await mkdtemp(join(tmpdir(), 'magrathea-review-'));
  state = join(work, 'state');
  const config = join(work, 'config');
  keys.admin = labAdminKey(lab);
  // The lab's configuration, with a state directory (Redis, repositories) of the suite's own.
  await mkdir(config, { recursive: true });
  await writeFile(join(config, 'gateway.yml'), (await readFile(join(lab.config, 'gateway.yml'), 'utf8')).replace(/^state_dir: .*$/m, `state_dir: ${state}`));
  for (const file of ['users.yml', 'clusters.yml']) await writeFile(join(config, file), await readFile(join(lab.config, file), 'utf8'));
  port = await freePort();
  server = await startGateway(['--config', config, '--listen', `127.0.0.1:${port}`, '--no-http', '--no-accounting']);
  expect((await admin('apps:create', APP)).exitCode).toBe(0);
  repo = join(work, 'repo');
  for (const [path, text] of Object.entries(FILES)) {
    await mkdir(dirname(join(repo, path)), { recursive: true });
    await writeFile(join(repo, path), text);
  }
  await run('git', ['init', '-q', '-b', 'master', repo]);
  await git(repo, 'admin', 'add', '-A');
  await git(repo, 'admin', 'commit', '-q', '-m', 'first');
  await git(repo, 'admin', 'remote', 'add', 'magrathea', `ssh://git@127.0.0.1:${port}/${APP}.git`);
  const pushed = await git(repo, 'admin', 'push', '-q', 'magrathea', 'master');
  if (pushed.exitCode !== 0) throw new Error(`push of master failed:\n${pushed.stderr}`);
}, 300_000);

// The app off the shared lab, then the gateway and its Redis by PID, failed or not.
afterAll(async () => {
  if (lab && server) await admin('apps:destroy', APP, '--confirm', APP).catch(() => undefined);
  await server?.stop();
  if (state) await stopPrivateRedis(state).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
}, 300_000);

describe('review environments', () => {
  it('a push of review/Fix-1 makes its own instance, on its ${branch} domain, with the review config vars beneath its own; production untouched', async () => {
    expect((await admin('config:set', APP, '--env', 'review', 'SHARED=from-review')).exitCode).toBe(0);
    await git(repo, 'admin', 'checkout', '-q', '-b', 'review/Fix-1');
    await writeFile(join(repo, 'content.txt'), 'the fix\n');
    await git(repo, 'admin', 'commit', '-q', '-am', 'fix');
    const push = await git(repo, 'admin', 'push', 'magrathea', 'review/Fix-1');
    expect(push.stderr).toMatch(/remote: review\/Fix-1: review instance rev-shop \(review-fix-1\) of environment review/);
    expect(push.exitCode).toBe(0);
    expect((await curl(edge(), REVIEW)).body).toBe('review-fix-1 from-review the fix\n');
    expect((await curl(edge(), PRODUCTION)).body).toBe('production - master\n');
    const releases = JSON.parse((await admin('releases', APP, '--json')).stdout) as { env: string; ref: string; liveOn: string[] }[];
    expect(releases.map((r) => [r.env, r.ref, r.liveOn])).toEqual(expect.arrayContaining([['review-fix-1', 'refs/heads/review/Fix-1', ['cluster-a']], ['production', 'refs/heads/master', ['cluster-a']]]));
    expect(JSON.parse((await admin('apps:info', APP, '--json')).stdout).live).toEqual({ 'production@cluster-a': 'r1', 'review-fix-1@cluster-a': 'r1' });
    // Its own database (production has none).
    expect(await databaseLeft()).toEqual(['database', 'user']);
  });

  it('refuses a branch of the same slug, and branch names crafted to escape, before anything is built', async () => {
    const same = await git(repo, 'admin', 'push', 'magrathea', 'HEAD:refs/heads/review/FIX_1');
    expect(same.exitCode).not.toBe(0);
    expect(same.stderr).toMatch(/remote: review\/FIX_1: its review instance would be review-fix-1 .*, which branch review\/Fix-1 already has/);
    for (const [name, said] of [
      ['review/$(id)', /is not a valid branch name/],
      ['review/été', /is not a valid branch name/],
      [`review/${'a'.repeat(120)}`, /is not a valid branch name/],
      ['review/___', /has no letter or digit after "review\/"/],
    ] as const) {
      const pushed = await git(repo, 'admin', 'push', 'magrathea', `HEAD:refs/heads/${name}`);
      expect(pushed.exitCode).not.toBe(0);
      expect(pushed.stderr).toMatch(said);
      expect(pushed.stderr).not.toMatch(/remote: deploy /);
    }
    // git itself refuses a name that climbs out.
    expect((await git(repo, 'admin', 'push', 'magrathea', 'HEAD:refs/heads/review/../x')).exitCode).not.toBe(0);
    expect((await git(repo, 'admin', 'ls-remote', '--heads', 'magrathea')).stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[1])).toEqual(['refs/heads/master', 'refs/heads/review/Fix-1']);
  });

  it('deleting the branch takes its instance off every host; production still served; deleting master stays refused', async () => {
    expect(await leftOnHosts()).not.toEqual([]);
    const deleted = await git(repo, 'admin', 'push', 'magrathea', ':review/Fix-1');
    expect(deleted.stderr).toMatch(/remote: review\/Fix-1: removing its review instance rev-shop \(review-fix-1\) from every host/);
    expect(deleted.stderr).toMatch(/remote: cluster-a rev-shop\.review-fix-1: .*vhost.*pool/);
    expect(deleted.stderr).toMatch(/remote: review\/Fix-1: deleted; rev-shop \(review-fix-1\) is gone from cluster-a/);
    expect(deleted.exitCode).toBe(0);
    expect(await leftOnHosts()).toEqual([]);
    expect(deleted.stderr).toMatch(/remote: cluster-a rev-shop\.review-fix-1: a-edge: database m_rev-shop_review-fix-1, db user m_rev-shop_review-fix-1/);
    expect(await databaseLeft()).toEqual([]);
    expect((await curl(edge(), REVIEW)).status).toBe(404);
    expect((await curl(edge(), PRODUCTION)).body).toBe('production - master\n');
    expect((JSON.parse((await admin('releases', APP, '--json')).stdout) as { env: string }[]).map((r) => r.env)).toEqual(['production']);

    const master = await git(repo, 'admin', 'push', 'magrathea', ':master');
    expect(master.exitCode).not.toBe(0);
    expect(master.stderr).toMatch(/remote: deleting branches is refused: master may feed an environment/);
    // Refused before anything of the push deploys, whatever the order of its refs.
    expect((await git(repo, 'admin', 'push', 'magrathea', 'master:refs/heads/feature')).stderr).toMatch(/remote: feature: feeds no environment/);
    await git(repo, 'admin', 'commit', '-q', '--allow-empty', '-m', 'never deployed');
    const both = await git(repo, 'admin', 'push', 'magrathea', 'HEAD:refs/heads/master', ':refs/heads/feature');
    expect(both.exitCode).not.toBe(0);
    expect(both.stderr).toMatch(/remote: deleting branches is refused: feature may feed an environment/);
    expect(both.stderr).not.toMatch(/remote: deploy /);
    expect((await git(repo, 'admin', 'ls-remote', '--heads', 'magrathea')).stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[1])).toEqual(['refs/heads/feature', 'refs/heads/master']);
  });
});
