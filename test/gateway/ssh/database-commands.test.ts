import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/adapters/exec.js';
import type { LabStatus } from '../../../src/lab/status.js';
import { runCli } from '../../helpers/cli.js';
import { curl } from '../../helpers/curl.js';
import { freePort } from '../../helpers/free-port.js';
import { CLI, gatewayClient, makeUserKeys, startGateway, type TestGateway } from '../../helpers/gateway.js';
import { sshRun, useLab } from '../../helpers/lab.js';
import { Terminal } from '../../helpers/terminal.js';
import { PHP_CONNECT } from '../../helpers/php-database.js';

/**
 * db:info, db:shell, db:export and db:import through `magrathea serve` on
 * the shared lab (a state directory of its own), with the real OpenSSH
 * client (db:shell under tmux), the HTTP API and the command line: an app
 * whose release hook makes a table and a view, deployed to both clusters
 * (production) and to cluster-a (staging, from develop); rows written
 * through its pages, exported from production and imported into staging.
 */
const APP = 'dbc-shop';
const PLAIN = 'dbc-plain';
const DB = { production: 'm_dbc-shop_production', staging: 'm_dbc-shop_staging' } as const;
let lab: LabStatus;
let work: string;
let config: string;
let port: number;
let server: TestGateway | undefined;
let api: string;
const keys: Record<string, string> = {};

const { sshCommand, ssh, git } = gatewayClient(() => port, keys, () => join(work, 'known_hosts'));

const FILES: Record<string, string> = {
  'magrathea.yml': [
    'stack: { php: "8.2", docroot: public }',
    'domains: ["${app}.dbc.example.com"]',
    'health: { path: /health.php }',
    'cache: { pass: ["^/"] }',
    'database: { engine: mysql }',
    'hooks: { release: "php migrate.php" }',
    'environments:',
    '  production: { branch: master, clusters: [cluster-a, cluster-b] }',
    '  staging: { branch: develop, clusters: [cluster-a], domains: ["staging.${app}.dbc.example.com"] }',
    // Never pushed: its database does not exist.
    '  qa: { branch: qa, clusters: [cluster-b], domains: ["qa.${app}.dbc.example.com"] }',
    '',
  ].join('\n'),
  'public/health.php': '<?php echo "ok";',
  // A table, and a view (whose dump carries a DEFINER, the production user).
  'migrate.php': `<?php ${PHP_CONNECT} $m->query("CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(200))") or exit(3); $m->query("CREATE OR REPLACE VIEW loud AS SELECT UPPER(body) AS body FROM notes") or exit(4); echo "migrated\\n";`,
  'public/add.php': `<?php ${PHP_CONNECT} $s = $m->prepare("INSERT INTO notes (body) VALUES (?)"); $b = $_GET["body"]; $s->bind_param("s", $b); $s->execute(); echo "added\\n";`,
  'public/list.php': `<?php ${PHP_CONNECT} foreach ($m->query("SELECT body FROM notes ORDER BY id") as $r) echo $r["body"], "\\n";`,
  'public/loud.php': `<?php ${PHP_CONNECT} $r = $m->query("SELECT body FROM loud"); if (!$r) { echo "error: ", $m->error, "\\n"; exit; } foreach ($r as $row) echo $row["body"], "\\n";`,
};

const edge = (cluster: string) => lab.edges.find((e) => e.cluster === cluster)!.url;
const page = async (cluster: string, path: string, env: 'production' | 'staging' = 'production') =>
  (await curl(`${edge(cluster)}${path}`, `${env === 'staging' ? 'staging.' : ''}${APP}.dbc.example.com`)).body;

/** `ssh magrathea ARGS < input > out`, bytes exactly: through sh, so that nothing decodes them. */
async function sshFiles(who: string, args: string[], files: { stdin?: string; stdout?: string } = {}) {
  const argv = [...sshCommand(who), '-o', 'LogLevel=ERROR', 'git@127.0.0.1', ...args];
  return run('sh', ['-c', '"$@" <"$IN" >"$OUT"', 'sh', ...argv], { reject: false, timeout: 120_000, env: { IN: files.stdin ?? '/dev/null', OUT: files.stdout ?? '/dev/null' } });
}

async function sql(cluster: string, statement: string): Promise<string> {
  const host = cluster === 'cluster-a' ? 'a-edge' : 'b-edge';
  return (await sshRun(lab, host, ['mariadb', '--batch', '--skip-column-names', '-e', statement])).stdout;
}

/** What db:import leaves in the db hosts' /var/tmp (shared by the lab's hosts): nothing, once done. */
/** The import directories on a-edge that were not there at the suite's start (the lab's hosts share the machine's /var/tmp with other test runs). */
async function importDirs(): Promise<string[]> {
  const now = (await sshRun(lab, 'a-edge', ['sh', '-c', 'ls -d /var/tmp/magrathea-import.* 2>/dev/null || true'])).stdout.split('\n').filter(Boolean);
  importDirsBefore ??= now;
  return now.filter((d) => !importDirsBefore!.includes(d));
}
let importDirsBefore: string[] | undefined;

beforeAll(async () => {
  lab = await useLab();
  await importDirs();
  work = await mkdtemp(join(tmpdir(), 'magrathea-db-commands-'));
  config = join(work, 'config');
  await cp(lab.config, config, { recursive: true });
  const gatewayYml = join(config, 'gateway.yml');
  await writeFile(gatewayYml, (await readFile(gatewayYml, 'utf8')).replace(/^state_dir: .*$/m, `state_dir: ${join(work, 'state')}`));
  // mel may deploy the app, not open a shell nor see its secrets.
  const melKey = (await makeUserKeys(lab, work, keys, ['mel'])).mel;
  const users = join(config, 'users.yml');
  await writeFile(users, `${await readFile(users, 'utf8')}mel:\n  role: member\n  keys: ["${melKey}"]\n  apps: ["dbc-*"]\n  verbs: [deploy]\n`);
  // The same gateway without a db host on cluster-b, for the command line.
  const noDb = join(work, 'config-nodb');
  await cp(config, noDb, { recursive: true });
  const clusters = join(noDb, 'clusters.yml');
  await writeFile(clusters, (await readFile(clusters, 'utf8')).replace(/(b-edge: \{[^}]*roles: \[[^\]]*?), db\]/, '$1]'));
  expect(await readFile(clusters, 'utf8')).not.toMatch(/b-edge: .*\bdb\b/);

  port = await freePort();
  server = await startGateway(['--config', config, '--listen', `127.0.0.1:${port}`, '--http', '127.0.0.1:0', '--no-accounting']);
  api = server.api!;
  for (const app of [APP, PLAIN]) expect((await ssh('admin', 'apps:create', app)).exitCode).toBe(0);

  const repo = join(work, 'shop');
  for (const [path, content] of Object.entries(FILES)) {
    await mkdir(join(repo, path, '..'), { recursive: true });
    await writeFile(join(repo, path), content);
  }
  await run('git', ['init', '-q', '-b', 'master', repo]);
  await git(repo, 'admin', 'add', '-A');
  await git(repo, 'admin', 'commit', '-q', '-m', 'notes');
  await git(repo, 'admin', 'remote', 'add', 'magrathea', `ssh://git@127.0.0.1:${port}/${APP}.git`);
  const production = await git(repo, 'admin', 'push', 'magrathea', 'master');
  expect(production.stderr).toMatch(/cluster-b\s+live/);
  const staging = await git(repo, 'admin', 'push', 'magrathea', 'master:develop');
  expect(staging.stderr).toMatch(/cluster-a\s+live/);

  // An app without a database, on cluster-a only.
  const plain = join(work, 'plain');
  await mkdir(join(plain, 'public'), { recursive: true });
  await writeFile(join(plain, 'public/health.php'), '<?php echo "ok";');
  await writeFile(join(plain, 'magrathea.yml'), 'stack: { php: "8.2", docroot: public }\ndomains: ["${app}.dbc.example.com"]\nhealth: { path: /health.php }\nenvironments:\n  production: { branch: master, clusters: [cluster-a] }\n');
  await run('git', ['init', '-q', '-b', 'master', plain]);
  await git(plain, 'admin', 'add', '-A');
  await git(plain, 'admin', 'commit', '-q', '-m', 'plain');
  expect((await git(plain, 'admin', 'push', `ssh://git@127.0.0.1:${port}/${PLAIN}.git`, 'master')).stderr).toMatch(/cluster-a\s+live/);

  expect(await page('cluster-a', '/add.php?body=first')).toBe('added\n');
  expect(await page('cluster-a', '/add.php?body=second')).toBe('added\n');
  expect(await page('cluster-b', '/add.php?body=only-b')).toBe('added\n');
  expect(await page('cluster-a', '/add.php?body=staging-own', 'staging')).toBe('added\n');
}, 600_000);

// The server and the terminal are stopped by PID here, failed or not; the apps, their databases and users removed.
afterAll(async () => {
  for (const app of [APP, PLAIN]) if (server) await ssh('admin', 'apps:destroy', app, '--confirm', app).catch(() => undefined);
  await server?.stop();
  for (const cluster of ['cluster-a', 'cluster-b']) {
    const drops = Object.values(DB).map((db) => `DROP DATABASE IF EXISTS \`${db}\`; DROP USER IF EXISTS '${db}'@'127.0.0.1';`);
    if (lab) await sql(cluster, drops.join(' ')).catch(() => undefined);
  }
  if (work) await rm(work, { recursive: true, force: true });
}, 300_000);

describe('db:info', () => {
  it('shows each cluster\'s database: two distinct ones (same name, different hosts), not empty, the password masked', async () => {
    const info = await ssh('admin', 'db:info', APP, '--json');
    expect(info).toMatchObject({ exitCode: 0, stderr: '' });
    const { databases } = JSON.parse(info.stdout) as { databases: { cluster: string; host: string; address: string; name: string; user: string; password: string; exists: boolean; bytes: number }[] };
    expect(databases.map((d) => [d.cluster, d.host, d.name, d.user, d.password, d.exists])).toEqual([
      ['cluster-a', 'a-edge', DB.production, DB.production, '********', true],
      ['cluster-b', 'b-edge', DB.production, DB.production, '********', true],
    ]);
    expect(databases[0]!.address).not.toBe(databases[1]!.address);
    for (const d of databases) expect(d.bytes).toBeGreaterThan(0);

    const text = await ssh('admin', 'db:info', `${APP}@cluster-b`);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^databases of dbc-shop \(production\):\nCLUSTER +DB HOST +ADDRESS .*\ncluster-b +b-edge +127\.0\.\d+\.3:3306 +m_dbc-shop_production +m_dbc-shop_production +\*{8} +[\d.]+ \w+ +ok\n$/);
    const qa = JSON.parse((await ssh('admin', 'db:info', APP, '--env', 'qa', '--json')).stdout) as { databases: { exists: boolean; bytes: number }[] };
    expect(qa.databases).toEqual([expect.objectContaining({ exists: false, bytes: 0 })]);
  });

  it('--reveal shows the password the app has (config verb); a member without it is refused, and gets the rest with read', async () => {
    const revealed = JSON.parse((await ssh('admin', 'db:info', `${APP}@cluster-a`, '--reveal', '--json')).stdout) as { databases: { password: string }[] };
    expect(revealed.databases[0]!.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const mel = await ssh('mel', 'db:info', APP, '--json');
    expect(mel.exitCode).toBe(0);
    const refused = await ssh('mel', 'db:info', APP, '--reveal');
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/^db:info: --reveal shows dbc-shop's database passwords: it needs the config verb on dbc-shop \(users\.yml\), which mel does not have/);
    expect(refused.stdout).toBe('');
  });

  it('runs through the HTTP API and the command line too; a cluster without a db host, an app without a database or unknown: one clear line', async () => {
    const token = (JSON.parse((await ssh('admin', 'tokens:create', '--json')).stdout) as { token: string }).token;
    const call = (argv: string[]) => fetch(`${api}/v1/run`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ argv }) });
    const viaApi = await (await call(['db:info', `${APP}@cluster-a`, '--json'])).text();
    expect(viaApi).toContain(DB.production);
    expect(viaApi).toContain('\\"exists\\": true');
    // Bytes have no place in a stream of JSON lines: db:export and db:import are not on the HTTP API.
    const exported = await call(['db:export', `${APP}@cluster-a`]);
    expect(exported.status).toBe(404);
    expect(await exported.text()).toMatch(/unknown command \\?"db:export\\?"/);

    const cli = await runCli(['db:info', `${APP}@cluster-a`, '--json', '--config', config]);
    expect(cli).toMatchObject({ status: 0, stderr: '' });
    expect(JSON.parse(cli.stdout)).toMatchObject({ app: APP, env: 'production', databases: [{ cluster: 'cluster-a', name: DB.production, exists: true }] });
    const noDb = await runCli(['db:info', `${APP}@cluster-b`, '--config', join(work, 'config-nodb')]);
    expect(noDb).toMatchObject({ status: 1, stdout: '', stderr: 'db:info: cluster cluster-b has no host of role db in clusters.yml\n' });

    const plain = await ssh('admin', 'db:export', `${PLAIN}@cluster-a`);
    expect(plain.exitCode).toBe(1);
    expect(plain.stderr).toBe('db:export: dbc-plain (production) has no database on cluster-a (database.engine in its magrathea.yml)\n');
    const unknown = await ssh('admin', 'db:info', 'dbc-nope');
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.stderr).toMatch(/^no app dbc-nope/);
    const notDeployed = await ssh('admin', 'db:export', `${APP}@cluster-b`, '--env', 'qa');
    expect(notDeployed.exitCode).toBe(1);
    expect(notDeployed.stderr).toBe('db:export: dbc-shop (qa) has no database on cluster-b yet (m_dbc-shop_qa on b-edge): deploy first\n');
    const noCluster = await ssh('admin', 'db:export', APP);
    expect(noCluster.exitCode).toBe(2);
    expect(noCluster.stderr).toMatch(/^db:export: name the cluster, as in dbc-shop@cluster-a/);
  });
});

describe('db:export and db:import', () => {
  it('exports production\'s database as gzip, which imports into staging under its own user: the same rows, its view working', async () => {
    const dump = join(work, 'shop.sql.gz');
    const exported = await sshFiles('admin', ['db:export', `${APP}@cluster-a`], { stdout: dump });
    expect(exported.exitCode).toBe(0);
    expect(exported.stderr).toMatch(/^db:export: dbc-shop@cluster-a: m_dbc-shop_production on a-edge: [\d.]+ \w+ gzipped\n$/);
    const sqlText = (await run('sh', ['-c', 'gzip -dc < "$1"', 'sh', dump])).stdout;
    expect(sqlText).toMatch(/CREATE TABLE `notes`/);
    expect(sqlText).toMatch(/INSERT INTO `notes` VALUES\s*\(1,'first'\),\s*\(2,'second'\);/);
    expect(sqlText).not.toMatch(/only-b/);
    expect(sqlText).not.toMatch(/CREATE DATABASE|^USE /m);
    expect(sqlText).not.toMatch(/DEFINER=/);
    expect(sqlText).toMatch(/VIEW `loud`/);

    expect(await page('cluster-a', '/list.php', 'staging')).toBe('staging-own\n');
    const imported = await sshFiles('admin', ['db:import', `${APP}@cluster-a`, '--env', 'staging', '--confirm', APP], { stdin: dump });
    expect(imported.stderr).toMatch(/db:import: dbc-shop@cluster-a: m_dbc-shop_staging on a-edge: [\d.]+ \w+ \(from [\d.]+ \w+ gunzipped\) imported\n$/);
    expect(imported.exitCode).toBe(0);
    expect(await page('cluster-a', '/list.php', 'staging')).toBe('first\nsecond\n');
    expect(await page('cluster-a', '/loud.php', 'staging')).toBe('FIRST\nSECOND\n');
    // Production's own database is as it was.
    expect(await page('cluster-a', '/list.php')).toBe('first\nsecond\n');
    expect(await importDirs()).toEqual([]);
  });

  it('imports a plain dump of another database, dropping its CREATE DATABASE and USE lines, its definers and the replication settings of a MySQL dump with GTIDs, saying so', async () => {
    await page('cluster-a', '/add.php?body=third');
    const plain = join(work, 'other.sql');
    const exported = await sshFiles('admin', ['db:export', `${APP}@cluster-a`], { stdout: `${plain}.gz` });
    expect(exported.exitCode).toBe(0);
    const body = (await run('sh', ['-c', 'gzip -dc < "$1"', 'sh', `${plain}.gz`])).stdout;
    const withDefiner = body.replace(/\/\*!50013 SQL SECURITY DEFINER \*\//, "/*!50013 DEFINER=`someone`@`%` SQL SECURITY DEFINER */");
    expect(withDefiner).not.toBe(body);
    // As MySQL 8's mysqldump writes them with GTIDs on (a GTID set of two servers spans two lines): each needs SUPER.
    const gtid = [
      'SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;',
      'SET @@SESSION.SQL_LOG_BIN= 0;',
      "SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,",
      "a9f1e2d0-71ca-11e1-9e33-c80aa9429562:1-2';",
    ].join('\n');
    await writeFile(plain, `-- a dump of another server\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ \`elsewhere\` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\nUSE \`elsewhere\`;\n${gtid}\n${withDefiner}SET @@SESSION.SQL_LOG_BIN = @MYSQLDUMP_TEMP_LOG_BIN;\n`);
    const imported = await sshFiles('admin', ['db:import', `${APP}@cluster-a`, '--env', 'staging', '--confirm', APP], { stdin: plain });
    expect(imported.stderr).toMatch(/^db:import: a dump naming a database: 1 CREATE DATABASE line dropped, 1 USE line dropped, 1 line rewritten without DEFINER, 3 replication settings \(SQL_LOG_BIN, GTID_PURGED\) dropped\n/);
    expect(imported.exitCode).toBe(0);
    expect(await page('cluster-a', '/list.php', 'staging')).toBe('first\nsecond\nthird\n');
    expect(await sql('cluster-a', "SHOW DATABASES LIKE 'elsewhere'")).toBe('');
  });

  it('refuses a non-dump (a PNG, random bytes), a bad --confirm, and a member without the verb: nothing changed, nothing left on the host', async () => {
    const png = join(work, 'image.png');
    await writeFile(png, Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(64, 7)]));
    const random = join(work, 'random.bin');
    await run('sh', ['-c', 'head -c 300000 /dev/urandom | tr -d "\\000" > "$1"', 'sh', random]);
    const gzRandom = join(work, 'random.gz');
    await run('sh', ['-c', 'gzip -c < "$1" > "$2"', 'sh', random, gzRandom]);
    const before = await page('cluster-a', '/list.php', 'staging');

    const pngImport = await sshFiles('admin', ['db:import', `${APP}@cluster-a`, '--env', 'staging', '--confirm', APP], { stdin: png });
    expect(pngImport).toMatchObject({ exitCode: 1, stderr: 'db:import: this is not an SQL dump: a NUL byte at offset 8 (it begins "\\x89PNG\\x0d\\x0a\\x1a\\x0a\\x00\\x00\\x00\\x0dIHDR\\x07\\x07\\x07\\x07\\x07\\x07\\x07\\x07..."); nothing was imported\n' });
    for (const input of [random, gzRandom]) {
      const refused = await sshFiles('admin', ['db:import', `${APP}@cluster-a`, '--env', 'staging', '--confirm', APP], { stdin: input });
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toMatch(/^db:import: this is not an SQL dump: it does not begin like an SQL dump: ".*"; nothing was imported\n$/);
    }
    const damaged = join(work, 'damaged.gz');
    await run('sh', ['-c', 'head -c 200 "$1" > "$2"', 'sh', join(work, 'shop.sql.gz'), damaged]);
    const cut = await sshFiles('admin', ['db:import', `${APP}@cluster-a`, '--env', 'staging', '--confirm', APP], { stdin: damaged });
    expect(cut.exitCode).toBe(1);
    expect(cut.stderr).toMatch(/^db:import: the gzip input is damaged \(.*\); nothing was imported\n$/);

    const unconfirmed = await sshFiles('admin', ['db:import', `${APP}@cluster-a`, '--env', 'staging', '--confirm', 'dbc-other'], { stdin: join(work, 'shop.sql.gz') });
    expect(unconfirmed).toMatchObject({ exitCode: 2, stderr: "db:import: not confirmed; nothing imported (it replaces tables of dbc-shop's database: give --confirm dbc-shop)\n" });
    for (const command of [['db:import', `${APP}@cluster-a`, '--env', 'staging', '--confirm', APP], ['db:export', `${APP}@cluster-a`], ['db:shell', `${APP}@cluster-a`]]) {
      const mel = await sshFiles('mel', command, { stdin: join(work, 'shop.sql.gz') });
      expect(mel.exitCode).toBe(1);
      expect(mel.stderr).toMatch(/^magrathea: mel may not .*dbc-shop/);
    }
    expect(await page('cluster-a', '/list.php', 'staging')).toBe(before);
    expect(await importDirs()).toEqual([]);
  });

  it('exports at the gateway\'s command line too', async () => {
    const file = join(work, 'cli.sql.gz');
    const exported = await run('sh', ['-c', 'node "$1" db:export "$2" --config "$3" > "$4"', 'sh', CLI, `${APP}@cluster-b`, config, file], { reject: false, timeout: 60_000 });
    expect(exported.exitCode).toBe(0);
    expect((await run('sh', ['-c', 'gzip -dc < "$1"', 'sh', file])).stdout).toMatch(/INSERT INTO `notes` VALUES\s*\(1,'only-b'\);/);
  });
});

describe('db:shell', () => {
  it('opens the client as the instance\'s user on its database, no password on any command line, the client\'s exit status as the session\'s', async () => {
    const password = (JSON.parse((await ssh('admin', 'db:info', `${APP}@cluster-a`, '--reveal', '--json')).stdout) as { databases: { password: string }[] }).databases[0]!.password;
    const noTerminal = await ssh('admin', 'db:shell', `${APP}@cluster-a`);
    expect(noTerminal.exitCode).toBe(2);
    expect(noTerminal.stderr).toMatch(/^db:shell needs a terminal: use ssh -t/);

    const terminal = new Terminal(work);
    try {
      await terminal.open([...sshCommand('admin'), '-t', '-o', 'LogLevel=ERROR', 'git@127.0.0.1', 'db:shell', `${APP}@cluster-a`]);
      await terminal.until(/dbc-shop@cluster-a m_dbc-shop_production> $/m);
      // Every process of the machine (the lab's hosts share its PID space): none has the password in its argv.
      const ps = await run('ps', ['-eo', 'args=']);
      expect(ps.stdout).toContain('mariadb --defaults-extra-file=/dev/fd/3');
      expect(ps.stdout).not.toContain(password);
      await terminal.type('SELECT CURRENT_USER() AS who, DATABASE() AS db, COUNT(*) AS n FROM notes;');
      await terminal.until(/\| m_dbc-shop_production@127\.0\.0\.1 \| m_dbc-shop_production \| +3 \|/);
      await terminal.type('system id');
      await terminal.until(/sandbox/i);
      await terminal.type('SELECT COUNT(*) FROM `m_dbc-shop_staging`.notes;');
      await terminal.until(/SELECT command denied to user 'm_dbc-shop_production'@'127\.0\.0\.1' for table `m_dbc-shop_staging`/);
      await terminal.type('exit');
      await terminal.until(/^@exit=0@$/m);
      expect(await terminal.screen()).not.toContain(password);
    } finally {
      terminal.close();
    }
  });

  it('ends with the client\'s status when it is not 0 (here: killed by a signal, 128 + 15)', async () => {
    const terminal = new Terminal(work);
    try {
      await terminal.open([...sshCommand('admin'), '-t', '-o', 'LogLevel=ERROR', 'git@127.0.0.1', 'db:shell', `${APP}@cluster-a`]);
      await terminal.until(/dbc-shop@cluster-a m_dbc-shop_production> $/m);
      // The client's process, exactly: its connection's port, as the server sees it, then the process that holds that port on the db host.
      await terminal.type('SELECT CONCAT("conn=", CONNECTION_ID()) AS c;');
      const id = (await terminal.until(/conn=(\d+)/))[1]!;
      const peer = (await sshRun(lab, 'a-edge', ['mariadb', '-N', '-B', '-e', `SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = ${id}`])).stdout.trim();
      const port = /:(\d+)$/.exec(peer)?.[1];
      expect(port).toBeDefined();
      const sockets = (await sshRun(lab, 'a-edge', ['ss', '-Htnp', 'state', 'established', `( sport = :${port} )`])).stdout;
      const pid = /"mariadb",pid=(\d+)/.exec(sockets)?.[1];
      expect(pid).toBeDefined();
      await sshRun(lab, 'a-edge', ['kill', '-TERM', pid!]);
      expect(await terminal.exitStatus()).toBe(143);
    } finally {
      terminal.close();
    }
  });
});
