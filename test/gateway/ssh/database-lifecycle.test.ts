import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run } from '../../../src/adapters/exec.js';
import type { LabStatus } from '../../../src/lab/status.js';
import { loadGatewayConfig } from '../../../src/config/load.js';
import { runBackups } from '../../../src/deployer/backup-job.js';
import { createKeys } from '../../../src/state/keys.js';
import { openRedis } from '../../../src/state/redis.js';
import { runCli } from '../../helpers/cli.js';
import { curl } from '../../helpers/curl.js';
import { freePort } from '../../helpers/free-port.js';
import { gatewayClient, labAdminKey, startGateway, type TestGateway } from '../../helpers/gateway.js';
import { sshRun, useLab } from '../../helpers/lab.js';
import { PHP_CONNECT_STRICT } from '../../helpers/php-database.js';

/**
 * A database's life through the real gateway (`magrathea serve`, the
 * OpenSSH client, git push) on the shared lab: backups captured, listed,
 * pruned and restored; a copy from production into staging across
 * clusters; a rotated password; db:destroy, then a deploy that makes it
 * again; its size in `usage`; apps:destroy leaving nothing of it on any db
 * host. Each refusal is one line and changes nothing.
 */
const APP = 'dbl-notes';
const DB = 'm_dbl-notes_production';

let lab: LabStatus;
let work: string;
let config: string;
let noDb: string;
let port: number;
let server: TestGateway | undefined;
let repo: string;
const keys: Record<string, string> = {};

const { sshCommand, git } = gatewayClient(() => port, keys, () => join(work, 'known_hosts'));
/** `ssh magrathea ARGV...` as the admin, with nothing on stdin (a question asked gets no answer). */
const admin = (...argv: string[]) => run('ssh', [...sshCommand('admin').slice(1), 'git@127.0.0.1', ...argv], { reject: false, input: '', timeout: 300_000 });

const edge = (cluster: string) => lab.edges.find((e) => e.cluster === cluster)!.url;
const dbHost = (cluster: string) => lab.hosts.find((h) => h.cluster === cluster && h.roles.includes('db'))!;
const page = async (cluster: string, env: string, path: string) => curl(`${edge(cluster)}${path}`, `${APP}.${env}.dbl.example.com`);
const body = async (cluster: string, env: string, path: string) => {
  const response = await page(cluster, env, path);
  expect(response.status).toBe(200);
  return response.body;
};
/** Root's SQL on a cluster's db host, rows as text. */
const sql = async (cluster: string, text: string) => (await sshRun(lab, dbHost(cluster).name, ['mariadb', '-N', '-B', '-e', text])).stdout;

const FILES: Record<string, string> = {
  'magrathea.yml': [
    'stack: { php: "8.2", docroot: public }',
    'domains: ["${app}.${env}.dbl.example.com"]',
    'health: { path: /health.php }',
    'database: { engine: mysql }',
    'hooks: { release: "php migrate.php" }',
    'environments:',
    '  production: { branch: master, clusters: [cluster-a, cluster-b] }',
    '  staging: { branch: develop, clusters: [cluster-b] }',
    '  preview: { branch: preview, clusters: [cluster-a], database: { engine: none } }',
    '',
  ].join('\n'),
  'public/health.php': '<?php echo "ok";',
  'migrate.php': `<?php ${PHP_CONNECT_STRICT} $m->query("CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(250))"); echo "migrated\\n";`,
  'public/add.php': `<?php ${PHP_CONNECT_STRICT} $s = $m->prepare("INSERT INTO notes (body) VALUES (?)"); $b = $_GET["body"]; $s->bind_param("s", $b); $s->execute(); echo "added\\n";`,
  'public/fill.php': `<?php ${PHP_CONNECT_STRICT} $s = $m->prepare("INSERT INTO notes (body) VALUES (?)"); for ($i = 0; $i < (int) $_GET["n"]; $i++) { $b = str_repeat(chr(97 + $i % 26), 250); $s->bind_param("s", $b); $s->execute(); } echo "filled\\n";`,
  'public/list.php': `<?php ${PHP_CONNECT_STRICT} foreach ($m->query("SELECT body FROM notes WHERE LENGTH(body) < 100 ORDER BY id") as $r) echo $r["body"], "\\n";`,
  'public/wipe.php': `<?php ${PHP_CONNECT_STRICT} $m->query("DELETE FROM notes"); echo "wiped\\n";`,
  'public/password.php': '<?php header("Cache-Control: no-store"); echo getenv("DB_PASSWORD");',
};

async function push(branch: string, change?: string): Promise<void> {
  await git(repo, 'admin', 'checkout', '-q', '-B', branch);
  if (change) await writeFile(join(repo, 'change.txt'), change);
  await git(repo, 'admin', 'add', '-A');
  await git(repo, 'admin', 'commit', '-q', '--allow-empty', '-m', change ?? branch);
  const pushed = await git(repo, 'admin', 'push', '-q', 'magrathea', branch);
  if (pushed.exitCode !== 0) throw new Error(`push of ${branch} failed:\n${pushed.stderr}`);
}

/** The one line a refused command printed, and that it was refused. */
async function refused(...argv: string[]): Promise<string> {
  const result = await admin(...argv);
  expect(result.exitCode).not.toBe(0);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

async function json<T>(...argv: string[]): Promise<T> {
  const result = await admin(...argv, '--json');
  if (result.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

type Listed = { backups: { id: string; time: string; bytes: number }[] };
const backupIds = async (target: string, env = 'production') => (await json<Listed>('db:backups:list', target, '--env', env)).backups.map((b) => b.id);
const capture = async (target: string) => (await json<{ backup: { id: string; bytes: number }; pruned: string[] }>('db:backups:capture', target));

/** Logs in as the instance's user with `password` from the db host's own address. */
const login = async (password: string) =>
  sshRun(lab, dbHost('cluster-a').name, ['mariadb', '-h', dbHost('cluster-a').address, '-P', '3306', '-u', DB, `--password=${password}`, '-N', '-e', 'SELECT 1', DB], { reject: false });

beforeAll(async () => {
  lab = await useLab();
  work = await mkdtemp(join(tmpdir(), 'magrathea-dblife-'));
  config = join(work, 'config');
  noDb = join(work, 'config-nodb');
  keys.admin = labAdminKey(lab);
  // The lab's configuration, with a state directory (Redis, repositories) of the suite's own and three backups kept.
  for (const dir of [config, noDb]) {
    await mkdir(dir, { recursive: true });
    const gateway = (await readFile(join(lab.config, 'gateway.yml'), 'utf8')).replace(/^state_dir: .*$/m, `state_dir: ${join(work, 'state')}`);
    await writeFile(join(dir, 'gateway.yml'), `${gateway}backups:\n  keep: 3\n  schedule: 1h\n`);
    await writeFile(join(dir, 'users.yml'), await readFile(join(lab.config, 'users.yml'), 'utf8'));
  }
  const clusters = await readFile(join(lab.config, 'clusters.yml'), 'utf8');
  await writeFile(join(config, 'clusters.yml'), clusters);
  // The same clusters, cluster-b without its db host.
  const withoutDb = clusters.replace(/(b-edge: \{[^\n]*roles: \[[^\]]*?), db\]/, '$1]');
  expect(withoutDb).not.toBe(clusters);
  await writeFile(join(noDb, 'clusters.yml'), withoutDb);
  port = await freePort();
  server = await startGateway(['--config', config, '--listen', `127.0.0.1:${port}`, '--no-http']);
  expect((await admin('apps:create', APP)).exitCode).toBe(0);
  repo = join(work, 'repo');
  for (const [path, text] of Object.entries(FILES)) {
    await mkdir(dirname(join(repo, path)), { recursive: true });
    await writeFile(join(repo, path), text);
  }
  await run('git', ['init', '-q', '-b', 'master', repo]);
  await git(repo, 'admin', 'remote', 'add', 'magrathea', `ssh://git@127.0.0.1:${port}/${APP}.git`);
  await push('master');
  await push('develop');
  await git(repo, 'admin', 'checkout', '-q', 'master');
}, 600_000);

// The gateway (and the Redis it started) stopped by PID, failed or not; what the suite left on the db hosts removed.
afterAll(async () => {
  if (lab && server) await admin('apps:destroy', APP, '--confirm', APP).catch(() => undefined);
  await server?.stop();
  if (lab) {
    for (const cluster of ['cluster-a', 'cluster-b']) {
      await sshRun(lab, dbHost(cluster).name, ['sh', '-c', 'rm -rf /var/backups/magrathea/dbl-notes']).catch(() => undefined);
    }
  }
  if (work) await rm(work, { recursive: true, force: true });
}, 300_000);

describe('database backups', () => {
  it('captures a backup into root-only files on the db host, and restores it after a bad change', async () => {
    expect(await body('cluster-a', 'production', '/add.php?body=one')).toBe('added\n');
    expect(await body('cluster-a', 'production', '/add.php?body=two')).toBe('added\n');
    const captured = await admin('db:backups:capture', `${APP}@cluster-a`);
    expect(captured.exitCode).toBe(0);
    const id = /backup ([0-9T.Z]+) captured on a-edge/.exec(captured.stdout)?.[1];
    expect(id).toBeDefined();
    const listed = await json<Listed>('db:backups:list', `${APP}@cluster-a`);
    expect(listed.backups.map((b) => b.id)).toEqual([id]);
    expect(listed.backups[0]!.bytes).toBeGreaterThan(100);
    expect((await admin('db:backups:list', `${APP}@cluster-a`)).stdout).toMatch(new RegExp(`^ID +TIME +SIZE\\n${id!.replace('.', '\\.')} +\\d{4}-`));
    const modes = await sshRun(lab, 'a-edge', ['stat', '-c', '%a %U %F', '/var/backups/magrathea', `/var/backups/magrathea/${APP}`, `/var/backups/magrathea/${APP}/production`, `/var/backups/magrathea/${APP}/production/${id}.sql.gz`]);
    expect(modes.stdout).toBe('700 root directory\n700 root directory\n700 root directory\n600 root regular file\n');
    // The dump is the one database's: no CREATE DATABASE, no USE.
    const dump = (await sshRun(lab, 'a-edge', ['sh', '-c', `gunzip -c /var/backups/magrathea/${APP}/production/${id}.sql.gz`])).stdout;
    expect(dump).toMatch(/CREATE TABLE `notes`/);
    expect(dump).not.toMatch(/CREATE DATABASE|^USE /m);

    expect(await body('cluster-a', 'production', '/wipe.php')).toBe('wiped\n');
    expect(await body('cluster-a', 'production', '/list.php')).toBe('');
    // Refused, each in one line, and the database is left as it is.
    expect(await refused('db:backups:restore', `${APP}@cluster-a`, id!, '--confirm', 'other')).toMatch(/^db:backups:restore: not confirmed; nothing restored \(give --confirm dbl-notes, not "other"\)$/);
    expect(await refused('db:backups:restore', `${APP}@cluster-a`, '20000101T000000.000Z', '--confirm', APP)).toMatch(/^db:backups:restore: no backup 20000101T000000\.000Z of dbl-notes@cluster-a \(production\) on a-edge; nothing restored/);
    expect(await refused('db:backups:restore', `${APP}@cluster-a`, '../../etc/passwd', '--confirm', APP)).toMatch(/is not a backup id/);
    expect(await body('cluster-a', 'production', '/list.php')).toBe('');

    const restored = await admin('db:backups:restore', `${APP}@cluster-a`, id!, '--confirm', APP);
    expect(restored.stdout).toMatch(/^dbl-notes@cluster-a \(production\): database restored from backup .* on a-edge/);
    // The rows are back, read by the app's own user: its grants were kept.
    expect(await body('cluster-a', 'production', '/list.php')).toBe('one\ntwo\n');
    // The other cluster's database is its own.
    expect(await body('cluster-b', 'production', '/list.php')).toBe('');
  }, 180_000);

  it('keeps backups.keep of them: a capture removes the oldest beyond it', async () => {
    const [first] = await backupIds(`${APP}@cluster-a`);
    const ids = [];
    for (let n = 0; n < 3; n++) ids.push((await capture(`${APP}@cluster-a`)).backup.id);
    expect(await backupIds(`${APP}@cluster-a`)).toEqual(ids);
    expect(ids).not.toContain(first);
    const files = await sshRun(lab, 'a-edge', ['ls', '-A', `/var/backups/magrathea/${APP}/production`]);
    expect(files.stdout.trim().split('\n')).toEqual(ids.map((i) => `${i}.sql.gz`));
  }, 180_000);

  it('runs the scheduled job: every live instance with a database captured, and status shows it', async () => {
    const status = await admin('status');
    expect(status.stdout).toMatch(/^backups {5}every 3600 s, next run \d{4}-.*; 1 worker\(s\); .*keep 3/m);
    const redis = await openRedis({ stateDir: join(work, 'state') });
    try {
      const run = await runBackups(await loadGatewayConfig(config), { redis: redis.client, keys: createKeys() });
      const mine = run.entries.filter((e) => e.instance.startsWith(`${APP}.`)).map((e) => [e.cluster, e.instance, e.error ?? (e.backup ? 'captured' : e.skipped)]);
      expect(mine).toEqual([
        ['cluster-a', 'dbl-notes.production', 'captured'],
        ['cluster-b', 'dbl-notes.production', 'captured'],
        ['cluster-b', 'dbl-notes.staging', 'captured'],
      ]);
    } finally {
      await redis.stop();
    }
    expect(await backupIds(`${APP}@cluster-b`, 'staging')).toHaveLength(1);
    expect(await backupIds(`${APP}@cluster-a`)).toHaveLength(3);
  }, 180_000);
});

describe('db:copy', () => {
  it('refuses the same source and target, and production without --confirm, in one line each', async () => {
    expect(await refused('db:copy', APP, '--from', 'staging', '--to', 'staging')).toMatch(/^db:copy: the source and the target are the same database \(dbl-notes staging@cluster-b\); nothing copied$/);
    // Asked for the app's name, and no answer.
    expect(await refused('db:copy', APP, '--from', 'staging', '--to', 'production')).toMatch(/^type the app's name \(dbl-notes\) to replace its production database with staging's: db:copy: not confirmed; nothing copied \(give --confirm dbl-notes, or type the name\)$/);
    expect(await refused('db:copy', APP, '--from', 'staging', '--to', 'production', '--confirm', 'dbl')).toMatch(/^db:copy: not confirmed; nothing copied/);
    expect(await body('cluster-a', 'production', '/list.php')).toBe('one\ntwo\n');
  }, 60_000);

  it('copies production on cluster-a into staging on cluster-b, through the gateway, backing staging up first', async () => {
    expect(await body('cluster-b', 'staging', '/add.php?body=staging-only')).toBe('added\n');
    const before = await backupIds(`${APP}@cluster-b`, 'staging');
    const copied = await admin('db:copy', APP, '--from', 'production@cluster-a', '--to', 'staging');
    expect(copied.exitCode).toBe(0);
    expect(copied.stdout).toMatch(/^dbl-notes: production@cluster-a copied into staging@cluster-b \(its database before: backup \S+\)\n$/);
    expect(await body('cluster-b', 'staging', '/list.php')).toBe('one\ntwo\n');
    expect(await body('cluster-a', 'production', '/list.php')).toBe('one\ntwo\n');
    // What staging held is a backup away.
    const after = await backupIds(`${APP}@cluster-b`, 'staging');
    expect(after.length).toBe(Math.min(3, before.length + 1));
  }, 180_000);
});

describe('refusals', () => {
  it('says in one line: unknown app, an environment without a database, a cluster without a db host', async () => {
    expect(await refused('db:backups:list', 'dbl-nope@cluster-a')).toMatch(/no app dbl-nope/);
    expect(await refused('db:backups:capture', `${APP}@cluster-a`, '--env', 'preview')).toMatch(/^db:backups:capture: dbl-notes \(preview\) has no database on cluster-a/);
    expect(await refused('db:rotate', APP)).toMatch(/^db:rotate: name the cluster, as in dbl-notes@cluster-a/);
    const cli = await runCli(['db:backups:capture', `${APP}@cluster-b`, '--config', noDb]);
    expect(cli.status).not.toBe(0);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toMatch(/cluster cluster-b has no host of role db in clusters\.yml/);
    expect(await backupIds(`${APP}@cluster-b`)).toHaveLength(1);
  }, 60_000);
});

describe('db:rotate', () => {
  it('keeps a new password that the next deploy sets: the app works with it, the old one is refused', async () => {
    const old = await body('cluster-a', 'production', '/password.php');
    const rows = await body('cluster-a', 'production', '/list.php');
    const rotated = await admin('db:rotate', `${APP}@cluster-a`);
    expect(rotated.stdout).toMatch(/a new password for m_dbl-notes_production is kept; the next deploy of production sets it on a-edge .*the current password works until then/);
    expect((await login(old)).exitCode).toBe(0);
    expect(await body('cluster-a', 'production', '/list.php')).toBe(rows);
    // Until the deploy, the db:* commands use the password the db host has.
    type Info = { databases: { cluster: string; password: string; rotated: boolean }[] };
    const pending = (await json<Info>('db:info', `${APP}@cluster-a`, '--reveal')).databases[0]!;
    expect(pending).toMatchObject({ cluster: 'cluster-a', password: old, rotated: true });
    expect((await admin('db:info', `${APP}@cluster-a`)).stdout).toContain('ok; new password set by the next deploy');
    const exported = await admin('db:export', `${APP}@cluster-a`);
    expect(exported.exitCode).toBe(0);
    await push('master', 'rotated');
    const fresh = await body('cluster-a', 'production', '/password.php');
    expect(fresh).not.toBe(old);
    expect(await body('cluster-a', 'production', '/list.php')).toBe(rows);
    const refusedLogin = await login(old);
    expect(refusedLogin.exitCode).not.toBe(0);
    expect(refusedLogin.stderr).toMatch(/Access denied for user 'm_dbl-notes_production'/);
    expect((await login(fresh)).exitCode).toBe(0);
    expect((await json<Info>('db:info', `${APP}@cluster-a`, '--reveal')).databases[0]).toMatchObject({ password: fresh, rotated: false });
  }, 300_000);
});

describe('usage', () => {
  it('shows each database\'s size, measured by the accounting run, growing with its rows', async () => {
    type Usage = { instances: { env: string; cluster: string; database?: { host: string; bytes: number } }[] };
    const size = async () => {
      const accounting = await runCli(['accounting', 'run', '--config', config]);
      expect(accounting.status).toBe(0);
      const usage = await json<Usage>('usage', APP);
      return usage.instances.find((i) => i.env === 'production' && i.cluster === 'cluster-a')?.database;
    };
    const before = await size();
    expect(before).toMatchObject({ host: 'a-edge' });
    expect(before!.bytes).toBeGreaterThan(0);
    expect(await body('cluster-a', 'production', '/fill.php?n=2000')).toBe('filled\n');
    // The server's statistics follow the table within seconds.
    let after = before;
    for (let tries = 0; tries < 30 && after!.bytes <= before!.bytes; tries++) {
      await new Promise((r) => setTimeout(r, 2000));
      after = await size();
    }
    expect(after!.bytes).toBeGreaterThan(before!.bytes);
    expect((await admin('usage', APP)).stdout).toMatch(/DISK\/HOST +DB\n/);
  }, 240_000);
});

describe('db:destroy', () => {
  it('refuses without the app\'s name; with it, drops the database and user: the page fails until a deploy makes it again, empty', async () => {
    expect(await refused('db:destroy', `${APP}@cluster-a`, '--confirm', 'nope')).toMatch(/^db:destroy: not confirmed; nothing dropped/);
    expect(await body('cluster-a', 'production', '/list.php')).toMatch(/^one\ntwo\n/);
    const destroyed = await admin('db:destroy', `${APP}@cluster-a`, '--confirm', APP);
    expect(destroyed.stdout).toMatch(/^dbl-notes@cluster-a \(production\): database m_dbl-notes_production dropped on a-edge, with its user; its password is forgotten .*its 3 backup\(s\) are kept/);
    expect(await sql('cluster-a', `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB}'; SELECT COUNT(*) FROM mysql.user WHERE User = '${DB}'`)).toBe('0\n0\n');
    expect((await page('cluster-a', 'production', '/list.php')).status).toBe(500);
    // cluster-b's is another database.
    expect(await body('cluster-b', 'production', '/list.php')).toBe('');
    await push('master', 'after destroy');
    expect(await body('cluster-a', 'production', '/list.php')).toBe('');
    expect(await body('cluster-a', 'production', '/add.php?body=new')).toBe('added\n');
    expect(await body('cluster-a', 'production', '/list.php')).toBe('new\n');
  }, 300_000);
});

describe('apps:destroy', () => {
  it('leaves no database, user or backup of the app on any db host', async () => {
    expect(Number(await sql('cluster-b', `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'm\\_dbl-notes\\_%'`))).toBe(2);
    const destroyed = await admin('apps:destroy', APP, '--confirm', APP);
    expect(destroyed.exitCode).toBe(0);
    expect(destroyed.stdout).toMatch(/^cluster-a dbl-notes\.production: a-edge: database m_dbl-notes_production, db user m_dbl-notes_production$/m);
    expect(destroyed.stdout).toMatch(/^cluster-b dbl-notes\.staging: b-edge: database m_dbl-notes_staging, db user m_dbl-notes_staging$/m);
    expect(destroyed.stdout).toMatch(/^cluster-b dbl-notes: b-edge: \d+ database backup\(s\)$/m);
    for (const cluster of ['cluster-a', 'cluster-b']) {
      expect(await sql(cluster, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'm\\_dbl-notes\\_%'; SELECT COUNT(*) FROM mysql.user WHERE User LIKE 'm\\_dbl-notes\\_%'")).toBe('0\n0\n');
      expect((await sshRun(lab, dbHost(cluster).name, ['test', '-e', `/var/backups/magrathea/${APP}`], { reject: false })).exitCode).toBe(1);
    }
  }, 300_000);
});
