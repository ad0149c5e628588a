import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/adapters/exec.js';
import { databaseName } from '../../../src/core/database.js';
import type { LabStatus } from '../../../src/lab/status.js';
import { runCli } from '../../helpers/cli.js';
import { curl } from '../../helpers/curl.js';
import { commitFiles } from '../../helpers/git-repo.js';
import { freePort } from '../../helpers/free-port.js';
import { gatewayClient, labAdminKey, startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startPanel, type TestPanel } from '../../helpers/ispconfig.js';
import { sshRun, useLab } from '../../helpers/lab.js';
import { PHP_CONNECT_STRICT } from '../../helpers/php-database.js';

/**
 * A cluster managed by the real ISPConfig panel (test/helpers/ispconfig.ts),
 * through the real gateway: an app's database made through the panel's
 * remote API and by its job runner (a cron every second here), the app
 * reading and writing rows through the edge, then destroyed through the
 * panel; a domain the panel already serves refused before anything is
 * built; the panel's refusals (a remote user without the database
 * functions, a wrong password) in one line naming the cluster and the call.
 */
const APP = 'ispc-notes';
const PANEL = { database: ['Client functions', 'Sites database functions', 'Sites Domain functions', 'Quota functions', 'Server functions'] };

let lab: LabStatus;
let panel: TestPanel | undefined;
let work: string;
let port: number;
let server: TestGateway | undefined;
let repo: string;
const keys: Record<string, string> = {};
/** A configuration directory per remote user (`magrathea`: every group; `nodb`: no database functions; `wrong`: a wrong password). */
const configs: Record<string, string> = {};
const DB = databaseName({ app: APP, env: 'production' }, { ispconfig: {} as never });

const { sshCommand, git } = gatewayClient(() => port, keys, () => join(work, 'known_hosts'));
const admin = (...argv: string[]) => run('ssh', [...sshCommand('admin').slice(1), 'git@127.0.0.1', ...argv], { reject: false, input: '', timeout: 300_000 });
const edge = () => lab.edges.find((e) => e.cluster === 'cluster-a')!.url;
const dbHost = () => lab.hosts.find((h) => h.cluster === 'cluster-a' && h.roles.includes('db'))!;
const onDbHost = async (sql: string) => (await sshRun(lab, dbHost().name, ['mariadb', '-N', '-B', '-e', sql])).stdout;
const body = async (path: string) => {
  const response = await curl(`${edge()}${path}`, `${APP}.ispc.example.com`);
  expect(response.status).toBe(200);
  return response.body;
};

const FILES: Record<string, string> = {
  'magrathea.yml': [
    'stack: { php: "8.2", docroot: public }',
    'domains: ["${app}.ispc.example.com"]',
    'health: { path: /health.php }',
    'database: { engine: mysql }',
    'hooks: { release: "php migrate.php" }',
    'environments:',
    '  production: { branch: master, clusters: [cluster-a] }',
    '',
  ].join('\n'),
  'public/health.php': '<?php echo "ok";',
  'migrate.php': `<?php ${PHP_CONNECT_STRICT} $m->query("CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(250))"); echo "migrated\\n";`,
  'public/add.php': `<?php ${PHP_CONNECT_STRICT} $s = $m->prepare("INSERT INTO notes (body) VALUES (?)"); $b = $_GET["body"]; $s->bind_param("s", $b); $s->execute(); echo "added\\n";`,
  'public/list.php': `<?php ${PHP_CONNECT_STRICT} foreach ($m->query("SELECT body FROM notes ORDER BY id") as $r) echo $r["body"], "\\n"; echo getenv("DB_DATABASE"), "\\n";`,
};

/** Commits (a change, or nothing) and pushes master as the admin. */
async function push(change?: string): Promise<{ exitCode: number; stderr: string }> {
  await commitFiles(repo, change ? { 'change.txt': change } : {}, change ?? 'push', { allowEmpty: true });
  return git(repo, 'admin', 'push', '-q', 'magrathea', 'master');
}

/** The lab's configuration with cluster-a managed by the panel as `user` (its password file written root-only). */
async function writeConfig(name: string, user: string, password: string): Promise<string> {
  const dir = join(work, `config-${name}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'gateway.yml'), (await readFile(join(lab.config, 'gateway.yml'), 'utf8')).replace(/^state_dir: .*$/m, `state_dir: ${join(work, 'state')}`));
  await writeFile(join(dir, 'users.yml'), await readFile(join(lab.config, 'users.yml'), 'utf8'));
  await writeFile(join(dir, 'ispconfig.password'), `${password}\n`, { mode: 0o600 });
  const clusters = (await readFile(join(lab.config, 'clusters.yml'), 'utf8')).replace(
    /^cluster-a:\n/m,
    `cluster-a:\n  ispconfig: { url: "${panel!.url}", user: ${user}, password_file: ${join(dir, 'ispconfig.password')}, client: admin, wait: 60s }\n`,
  );
  await writeFile(join(dir, 'clusters.yml'), clusters);
  return dir;
}

beforeAll(async () => {
  lab = await useLab();
  work = await mkdtemp(join(tmpdir(), 'magrathea-ispc-'));
  panel = await startPanel({
    lab,
    cluster: 'cluster-a',
    name: 'gateway',
    users: [
      { username: 'magrathea', password: 'panel-password', functions: PANEL.database },
      { username: 'nodb', password: 'nodb-password', functions: ['Client functions', 'Server functions'] },
    ],
  });
  process.stdout.write(`ISPConfig panel up in ${panel.seconds.toFixed(1)} s\n`);
  panel.startCron(1);
  configs.magrathea = await writeConfig('magrathea', 'magrathea', 'panel-password');
  configs.nodb = await writeConfig('nodb', 'nodb', 'nodb-password');
  configs.wrong = await writeConfig('wrong', 'magrathea', 'not-the-password');
  keys.admin = labAdminKey(lab);
  port = await freePort();
  server = await startGateway(['--config', configs.magrathea, '--listen', `127.0.0.1:${port}`, '--no-http']);
  expect((await admin('apps:create', APP)).exitCode).toBe(0);
  repo = join(work, 'repo');
  await run('git', ['init', '-q', '-b', 'master', repo]);
  await commitFiles(repo, FILES, 'first');
  await git(repo, 'admin', 'remote', 'add', 'magrathea', `ssh://git@127.0.0.1:${port}/${APP}.git`);
}, 600_000);

afterAll(async () => {
  if (lab && server) await admin('apps:destroy', APP, '--confirm', APP).catch(() => undefined);
  await server?.stop();
  await panel?.stop();
  if (lab) await onDbHost(`DROP DATABASE IF EXISTS \`${DB}\`; DROP USER IF EXISTS '${DB}'@'127.0.0.1'; DROP USER IF EXISTS '${DB}'@'localhost';`).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
}, 300_000);

describe('ispconfig check', () => {
  it('says the login works, every needed group is granted, and which server is the db host', async () => {
    const checked = await admin('ispconfig', 'check', '--cluster', 'cluster-a');
    expect(checked.stderr).toBe('');
    expect(checked.stdout).toMatch(/^cluster-a: ISPConfig at http:\/\/127\.0\.0\.1:\d+\/remote\/json\.php as magrathea: login ok\nfunction groups: every one needed is granted\nserver 1 a-edge \S+: host a-edge \(the db host\)\n$/);
    expect((await admin('status')).stdout).toMatch(/^ispconfig {3}cluster-a: login ok$/m);
  }, 60_000);

  it('names the groups a remote user lacks, and what to fix', async () => {
    const cli = await runCli(['ispconfig', 'check', '--cluster', 'cluster-a', '--config', configs.nodb!]);
    expect(cli.status).toBe(1);
    expect(cli.stdout).toMatch(/function groups: missing "Sites database functions", "Sites Domain functions", "Quota functions"/);
    expect(cli.stdout).toMatch(/problem: cluster-a: the panel's remote user nodb lacks the function group "Sites database functions", needed for making, changing and deleting databases .*grant it in the panel/);
    expect(cli.stderr).toBe('ispconfig check: 3 problem(s) with the panel of cluster-a\n');
  }, 60_000);
});

describe('domains the panel already serves', () => {
  it('refuses a deploy claiming one, before anything is built, naming the site and the panel\'s id', async () => {
    // A site of the panel with its automatic www subdomain, and an alias of it, as its admin screens record them.
    await panel!.sql("INSERT INTO web_domain (sys_userid, sys_groupid, sys_perm_user, sys_perm_group, server_id, domain, type, parent_domain_id, subdomain, active) VALUES (1, 1, 'riud', 'riud', 1, 'ispc-site.example.com', 'vhost', 0, 'www', 'y')");
    const site = Number(await panel!.sql("SELECT domain_id FROM web_domain WHERE domain = 'ispc-site.example.com'"));
    await panel!.sql(`INSERT INTO web_domain (sys_userid, sys_groupid, sys_perm_user, sys_perm_group, server_id, domain, type, parent_domain_id, subdomain, active) VALUES (1, 1, 'riud', 'riud', 1, 'ispc-alias.example.com', 'alias', ${site}, 'none', 'y')`);
    const alias = Number(await panel!.sql("SELECT domain_id FROM web_domain WHERE domain = 'ispc-alias.example.com'"));
    const other = join(work, 'other');
    await run('git', ['init', '-q', '-b', 'master', other]);
    await git(other, 'admin', 'remote', 'add', 'magrathea', `ssh://git@127.0.0.1:${port}/ispc-other.git`);
    expect((await admin('apps:create', 'ispc-other')).exitCode).toBe(0);
    try {
      const attempt = async (domain: string) => {
        const manifest = `stack: { php: "8.2", docroot: public }\ndomains: ["ispc-other.example.com", "${domain}"]\nenvironments:\n  production: { branch: master, clusters: [cluster-a] }\n`;
        await commitFiles(other, { 'magrathea.yml': manifest, 'public/index.php': '<?php echo "other";' }, domain);
        const pushed = await git(other, 'admin', 'push', '-q', 'magrathea', 'master');
        expect(pushed.exitCode).not.toBe(0);
        expect(pushed.stderr).not.toMatch(/release r\d+|\bbuild\b/);
        return pushed.stderr;
      };
      expect(await attempt('ispc-alias.example.com')).toMatch(new RegExp(`cluster-a: the domain ispc-alias\\.example\\.com of ispc-other \\(production\\) is already served by the cluster's ISPConfig panel: alias ispc-alias\\.example\\.com \\(web_domain id ${alias}\\) of site ispc-site\\.example\\.com \\(web_domain id ${site}, server 1\\); .*nothing was built`));
      expect(await attempt('www.ispc-site.example.com')).toMatch(new RegExp(`the domain www\\.ispc-site\\.example\\.com .* site ispc-site\\.example\\.com \\(web_domain id ${site}, server 1\\), whose subdomain setting "www" serves`));
      expect((await admin('releases', 'ispc-other')).stdout).not.toMatch(/\br1\b/);
    } finally {
      await admin('apps:destroy', 'ispc-other', '--confirm', 'ispc-other');
    }
  }, 180_000);
});

describe('a database through the panel', () => {
  it('is recorded by the panel, made by its job runner, and the app reads and writes rows through the edge', async () => {
    const started = Date.now();
    const pushed = await push();
    process.stdout.write(`deploy with a panel database: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    expect(pushed.stderr).toMatch(new RegExp(`database ${DB} on a-edge`));
    expect(pushed.exitCode).toBe(0);
    expect(DB).toMatch(/^[A-Za-z0-9_]{2,32}$/);
    const row = await panel!.sql(`SELECT database_name, remote_access, remote_ips, active FROM web_database WHERE database_name = '${DB}'`);
    expect(row).toBe(`${DB}\ty\t127.0.0.1\ty\n`);
    expect(await panel!.sql(`SELECT database_user FROM web_database_user WHERE database_user = '${DB}'`)).toBe(`${DB}\n`);
    expect(await onDbHost(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB}'`)).toBe(`${DB}\n`);
    expect(await body('/add.php?body=one')).toBe('added\n');
    expect(await body('/add.php?body=two')).toBe('added\n');
    expect(await body('/list.php')).toBe(`one\ntwo\n${DB}\n`);
  }, 300_000);

  it('is found again by the next deploy, which changes nothing in the panel', async () => {
    const before = await panel!.sql('SELECT COUNT(*) FROM sys_datalog');
    const pushed = await push('second');
    expect(pushed.exitCode).toBe(0);
    expect(await panel!.sql('SELECT COUNT(*) FROM sys_datalog')).toBe(before);
    expect(await panel!.sql(`SELECT COUNT(*) FROM web_database WHERE database_name = '${DB}'`)).toBe('1\n');
    expect(await body('/list.php')).toBe(`one\ntwo\n${DB}\n`);
  }, 300_000);

  it('reports a wrong password as login_failed once, without locking the gateway out', async () => {
    const attempts = async () => Number(await panel!.sql('SELECT COALESCE(SUM(times), 0) FROM attempts_login'));
    const before = await attempts();
    const cli = await runCli(['db:info', `${APP}@cluster-a`, '--config', configs.wrong!]);
    expect(cli.status).not.toBe(0);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toMatch(/^.*cluster-a: ISPConfig login: login_failed: The login failed\. .*not retried/);
    expect(await attempts()).toBe(before + 1);
    // status, as monitoring polls it: one login per 5 minutes with the same settings, however often it is asked.
    for (let i = 0; i < 3; i++) {
      const status = await runCli(['status', '--json', '--config', configs.wrong!]);
      const report = JSON.parse(status.stdout) as { panels: { login: string }[]; problems: string[] };
      expect(report.panels[0]!.login).toMatch(/login_failed/);
      expect(report.problems).toEqual(expect.arrayContaining([expect.stringMatching(/login_failed.*\(checked at .*, not again for 5 minutes unless its settings change;/)]));
    }
    expect(await attempts()).toBe(before + 2);
    // The right password still logs in.
    const info = await runCli(['db:info', `${APP}@cluster-a`, '--config', configs.magrathea!]);
    expect(info.stderr).toBe('');
    expect(info.status).toBe(0);
  }, 60_000);

  it('gives the panel the password db:rotate made, at the next deploy (sites_database_user_update): the app works with it', async () => {
    const login = (password: string) => sshRun(lab, dbHost().name, ['mariadb', '-h', dbHost().address, '-u', DB, `--password=${password}`, '-N', '-e', 'SELECT 1', DB], { reject: false });
    const password = async () => (JSON.parse((await admin('db:info', `${APP}@cluster-a`, '--reveal', '--json')).stdout) as { databases: { password: string }[] }).databases[0]!.password;
    const updates = async () => Number(await panel!.sql("SELECT COUNT(*) FROM sys_datalog WHERE dbtable = 'web_database_user' AND action = 'u'"));
    const old = await password();
    const before = await updates();
    expect((await admin('db:rotate', `${APP}@cluster-a`)).exitCode).toBe(0);
    expect((await push('rotated')).exitCode).toBe(0);
    // The API records the update once per server the user's databases are on, plus its own entry.
    expect(await updates()).toBeGreaterThan(before);
    const now = await password();
    expect(now).not.toBe(old);
    expect((await login(now)).stdout).toBe('1\n');
    expect((await login(old)).exitCode).not.toBe(0);
    expect(await body('/list.php')).toBe(`one\ntwo\n${DB}\n`);
  }, 300_000);

  it('names the cluster and the call when the remote user lacks the database functions: permission_denied, in one line, and changes nothing', async () => {
    const cli = await runCli(['db:destroy', `${APP}@cluster-a`, '--confirm', APP, '--config', configs.nodb!]);
    expect(cli.status).not.toBe(0);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toMatch(/cluster-a: ISPConfig sites_database_get: permission_denied: .*grant the remote user the function group that holds sites_database_get/);
    expect(await panel!.sql(`SELECT COUNT(*) FROM web_database WHERE database_name = '${DB}'`)).toBe('1\n');
    expect(await body('/list.php')).toBe(`one\ntwo\n${DB}\n`);
  }, 60_000);

  it('is deleted through the panel by db:destroy, from the panel and from MySQL', async () => {
    const destroyed = await admin('db:destroy', `${APP}@cluster-a`, '--confirm', APP);
    expect(destroyed.stderr).toBe('');
    expect(destroyed.exitCode).toBe(0);
    expect(await panel!.sql(`SELECT COUNT(*) FROM web_database WHERE database_name = '${DB}'`)).toBe('0\n');
    expect(await panel!.sql(`SELECT COUNT(*) FROM web_database_user WHERE database_user = '${DB}'`)).toBe('0\n');
    expect(await onDbHost(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB}'`)).toBe('');
    expect(await onDbHost(`SELECT COUNT(*) FROM mysql.user WHERE User = '${DB}'`)).toBe('0\n');
  }, 180_000);

  it('is deleted through the panel by apps:destroy too, and the kept ids with it', async () => {
    expect((await push('again')).exitCode).toBe(0);
    expect(await panel!.sql(`SELECT COUNT(*) FROM web_database WHERE database_name = '${DB}'`)).toBe('1\n');
    const destroyed = await admin('apps:destroy', APP, '--confirm', APP);
    expect(destroyed.exitCode).toBe(0);
    expect(await panel!.sql(`SELECT COUNT(*) FROM web_database WHERE database_name = '${DB}'`)).toBe('0\n');
    expect(await onDbHost(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB}'`)).toBe('');
    expect(await onDbHost(`SELECT COUNT(*) FROM mysql.user WHERE User = '${DB}'`)).toBe('0\n');
  }, 300_000);
});
