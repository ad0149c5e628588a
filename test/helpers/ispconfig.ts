import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, start, type RunResult } from '../../src/adapters/exec.js';
import { sqlString } from '../../src/core/database.js';
import { isAlive, stopProcesses } from '../../src/lab/processes.js';
import type { LabStatus } from '../../src/lab/status.js';
import { freePort } from './free-port.js';
import { sshRun } from './lab.js';
import { waitFor } from './wait.js';

/**
 * The real ISPConfig 3.2.12p1 panel as the tests' partner: its unmodified
 * source unpacked, its own MariaDB holding its database (`dbispconfig`), its
 * remote JSON API served by PHP's built-in server on the loopback, and its
 * server-side job runner (`server/server.php`, a cron every minute on a real
 * panel) run on demand, creating the apps' databases and users on a lab
 * cluster's db host. Set up from what the installer and the admin screens
 * would write: nothing of the panel is imitated or changed.
 */

/** The variable naming the panel's source tarball; default `<project>/../shared/ispconfig/<TARBALL>`. */
export const ISPCONFIG_SOURCE_VARIABLE = 'MAGRATHEA_ISPCONFIG_SOURCE';
const TARBALL = 'ispconfig3-3.2.12p1.tar.gz';
/** The upstream release's sha256: another tarball is refused. */
export const ISPCONFIG_SHA256 = '68a293239a60e56c95aa1af50b135229c9c45921ecda4b7495d4c13478cd010e';

/** The function groups of the remote API (the keys of `$function_list` in admin, client and sites), as the admin screen grants them. */
export type FunctionGroups = 'all' | readonly string[];

export interface RemoteUser {
  username: string;
  password: string;
  /** Group names (`Sites database functions`) or `all`. */
  functions: FunctionGroups;
}

export interface PanelOptions {
  lab: LabStatus;
  /** The cluster whose db host the job runner creates databases on. */
  cluster: string;
  /** Remote API users to seed. */
  users: readonly RemoteUser[];
  /** Name of the directory under the system's temporary one. */
  name: string;
}

/** A panel running; stop() it in afterAll, failed or not. */
export interface TestPanel {
  /** The remote API's base URL (`http://127.0.0.1:PORT/remote/json.php`). */
  url: string;
  /** The panel's server id of the cluster's db host (the seeded `server` row). */
  serverId: number;
  /** The address the `server_ip` row gives that server. */
  serverIp: string;
  /** PIDs of the daemons it started (the panel's MariaDB, PHP's server). */
  pids(): number[];
  /** SQL on the panel's own database, rows tab-separated. */
  sql(text: string): Promise<string>;
  /** One run of the job runner: applies what the API queued. */
  runJobs(): Promise<RunResult>;
  /** Runs the job runner every `seconds` in the background, as a cron would, until stopCron() or stop(). */
  startCron(seconds?: number): void;
  stopCron(): Promise<void>;
  /** Every process stopped by PID, the job runner's account on the db host dropped, the files removed. */
  stop(): Promise<void>;
  /** Seconds the start took. */
  seconds: number;
}

/** The tarball: `$MAGRATHEA_ISPCONFIG_SOURCE`, else the shared one beside the project; missing or different, a clear error. */
export async function ispconfigSource(): Promise<string> {
  const path = process.env[ISPCONFIG_SOURCE_VARIABLE] ?? resolve('..', 'shared', 'ispconfig', TARBALL);
  try {
    await access(path);
  } catch {
    throw new Error(`the ISPConfig source tarball is missing: ${path} (set ${ISPCONFIG_SOURCE_VARIABLE} to the path of ${TARBALL}, sha256 ${ISPCONFIG_SHA256})`);
  }
  const sum = createHash('sha256').update(await readFile(path)).digest('hex');
  if (sum !== ISPCONFIG_SHA256) throw new Error(`${path} is not ${TARBALL}: sha256 ${sum}, expected ${ISPCONFIG_SHA256} (${ISPCONFIG_SOURCE_VARIABLE})`);
  return path;
}

/** Every function group key of the admin, client and sites modules, by their names. */
async function functionGroups(root: string): Promise<Map<string, string>> {
  const php = 'foreach (["admin", "client", "sites"] as $m) { $function_list = []; include "interface/web/$m/lib/remote.conf.php"; foreach ($function_list as $k => $v) echo $v, "\\t", $k, "\\n"; }';
  const { stdout } = await run('php', ['-r', php], { cwd: root });
  return new Map(stdout.split('\n').filter((l) => l.includes('\t')).map((l) => l.split('\t') as [string, string]));
}

/** A string literal for the panel's MariaDB (backslash escapes on): ini files span lines. */
function literal(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\n', '\\n').replaceAll('\r', '\\r').replaceAll('\0', '\\0')}'`;
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (all, key: string) => values[key] ?? all);
}

/** Starts the panel for `options.cluster` of the lab. */
export async function startPanel(options: PanelOptions): Promise<TestPanel> {
  const started = Date.now();
  const tarball = await ispconfigSource();
  const work = await mkdtemp(join(tmpdir(), `magrathea-ispconfig-${options.name}-`));
  const pids: number[] = [];
  let cron: { timer: NodeJS.Timeout; running?: Promise<unknown> } | undefined;
  const dbHost = options.lab.hosts.find((h) => h.cluster === options.cluster && h.roles.includes('db'));
  if (!dbHost) throw new Error(`the lab's ${options.cluster} has no db host`);
  const jobUser = `ispc_${randomBytes(4).toString('hex')}`;
  const jobPassword = randomBytes(12).toString('hex');
  let jobUserMade = false;

  const stop = async (): Promise<void> => {
    if (cron) clearInterval(cron.timer);
    await cron?.running?.catch(() => undefined);
    cron = undefined;
    await stopProcesses(pids, 5000);
    if (jobUserMade) await sshRun(options.lab, dbHost.name, ['mariadb'], { input: `DROP USER IF EXISTS ${sqlString(jobUser)}@'127.0.0.1';\n` }).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  };

  try {
    await run('tar', ['-xzf', tarball, '-C', work]);
    const root = join(work, 'ispconfig3');
    const data = join(work, 'mysql');
    const socket = join(work, 'mysql.sock');
    const logs = join(work, 'log');
    await mkdir(logs, { recursive: true });

    // The panel's own MariaDB, on a unix socket only; not strict (the panel's inserts fail in strict mode).
    const common = ['--no-defaults', `--datadir=${data}`, '--user=root', '--innodb-log-file-size=8M'];
    await run('/usr/bin/mariadb-install-db', [...common, '--auth-root-authentication-method=normal', '--skip-test-db'], { timeout: 60_000 });
    const mariadb = start('/usr/sbin/mariadbd', [...common, '--skip-networking', `--socket=${socket}`, `--pid-file=${join(work, 'mysql.pid')}`, '--sql-mode=NO_ENGINE_SUBSTITUTION', `--log-error=${join(logs, 'mariadb.log')}`, '--innodb-buffer-pool-size=16M', '--key-buffer-size=1M', '--aria-pagecache-buffer-size=1M'], { detached: true, stdio: 'ignore' });
    pids.push(mariadb.pid!);
    const client = (sql: string, db?: string) => run('mariadb', ['--no-defaults', `--socket=${socket}`, '-u', 'root', '-N', '-B', ...(db ? [db] : [])], { input: sql, timeout: 60_000 });
    await waitFor("the panel's MariaDB", async () => (await isAlive(mariadb.pid!)) && (await client('SELECT 1').then(() => true, () => false)), 30_000, async () => readFile(join(logs, 'mariadb.log'), 'utf8').catch(() => ''));

    const panelPassword = randomBytes(12).toString('hex');
    await client(`CREATE DATABASE dbispconfig; CREATE USER 'ispconfig'@'localhost' IDENTIFIED BY ${sqlString(panelPassword)}; GRANT SELECT, INSERT, UPDATE, DELETE ON dbispconfig.* TO 'ispconfig'@'localhost';`);
    await client(await readFile(join(root, 'install/sql/ispconfig3.sql'), 'utf8'), 'dbispconfig');

    // Its configuration, from the installer's templates.
    const config = fill(await readFile(join(root, 'install/tpl/config.inc.php.master'), 'utf8'), {
      mysql_server_host: 'localhost', mysql_server_port: '3306', mysql_server_database: 'dbispconfig', mysql_server_ispconfig_user: 'ispconfig', mysql_server_ispconfig_password: panelPassword,
      mysql_master_server_host: 'localhost', mysql_master_server_port: '3306', mysql_master_server_database: 'dbispconfig', mysql_master_server_ispconfig_user: 'ispconfig', mysql_master_server_ispconfig_password: panelPassword,
      server_id: '1', language: 'en', theme: 'default', timezone: 'UTC', ispconfig_log_priority: '2', language_file_import_enabled: 'false',
    }).replace("$conf['ispconfig_log_dir'] = '/var/log/ispconfig';", `$conf['ispconfig_log_dir'] = ${JSON.stringify(logs)};`);
    const left = /= *'?\{([a-z_]+)\}/.exec(config);
    if (left) throw new Error(`config.inc.php.master has a placeholder the fixture does not fill: ${left[1]}`);
    if (!config.includes(logs)) throw new Error("the panel's config.inc.php.master no longer names its log dir as expected");
    await writeFile(join(root, 'interface/lib/config.inc.php'), config);
    await writeFile(join(root, 'server/lib/config.inc.php'), config);
    await mkdir(join(root, 'security'), { recursive: true });
    await writeFile(join(root, 'security/security_settings.ini'), await readFile(join(root, 'install/tpl/security_settings.ini.master'), 'utf8'));
    // The job runner: the cluster's db host as its client database server, the database module and MySQL plugin enabled.
    await sshRun(options.lab, dbHost.name, ['mariadb'], { input: `CREATE USER ${sqlString(jobUser)}@'127.0.0.1' IDENTIFIED BY ${sqlString(jobPassword)};\nGRANT ALL PRIVILEGES ON *.* TO ${sqlString(jobUser)}@'127.0.0.1' WITH GRANT OPTION;\n` });
    jobUserMade = true;
    await writeFile(join(root, 'server/lib/mysql_clientdb.conf'), `<?php\n$clientdb_host = ${JSON.stringify(dbHost.address)};\n$clientdb_user = ${JSON.stringify(jobUser)};\n$clientdb_password = ${JSON.stringify(jobPassword)};\n`);
    await writeFile(join(root, 'server/lib/remote_action.inc.php'), '<?php\n$maxid_remote_action = 0;\n');
    await symlink('../mods-available/database_module.inc.php', join(root, 'server/mods-enabled/database_module.inc.php'));
    await symlink('../plugins-available/mysql_clientdb_plugin.inc.php', join(root, 'server/plugins-enabled/mysql_clientdb_plugin.inc.php'));

    // Rows the installer and the admin screens write.
    const serverIni = (await readFile(join(root, 'install/tpl/server.ini.master'), 'utf8')).replace(/^hostname=.*$/m, `hostname=${dbHost.name}`).replace(/^ip_address=.*$/m, `ip_address=${dbHost.address}`);
    const groups = await functionGroups(root);
    const rows = [
      `UPDATE sys_ini SET config = ${literal(await readFile(join(root, 'install/tpl/system.ini.master'), 'utf8'))} WHERE sysini_id = 1;`,
      `INSERT INTO server (server_id, sys_userid, sys_groupid, sys_perm_user, sys_perm_group, server_name, db_server, config, updated, dbversion, active) VALUES (1, 1, 1, 'riud', 'riud', ${sqlString(dbHost.name)}, 1, ${literal(serverIni)}, 0, 100, 1);`,
      `INSERT INTO server_ip (sys_userid, sys_groupid, sys_perm_user, sys_perm_group, server_id, ip_type, ip_address, virtualhost) VALUES (1, 1, 'riud', 'riud', 1, 'IPv4', ${sqlString(dbHost.address)}, 'y');`,
    ];
    for (const user of options.users) {
      const wanted = user.functions === 'all' ? [...groups.values()] : user.functions.map((name) => {
        const key = groups.get(name);
        if (!key) throw new Error(`no function group ${JSON.stringify(name)} in the panel (${[...groups.keys()].join('; ')})`);
        return key;
      });
      const hash = (await run('php', ['-r', 'echo crypt($argv[1], $argv[2]);', user.password, `$6$rounds=5000$${randomBytes(8).toString('hex')}$`])).stdout;
      rows.push(`INSERT INTO remote_user (sys_userid, sys_groupid, sys_perm_user, sys_perm_group, remote_username, remote_password, remote_access, remote_ips, remote_functions) VALUES (1, 1, 'riud', 'riud', ${sqlString(user.username)}, ${sqlString(hash)}, 'y', '127.0.0.1', ${sqlString(wanted.join(';'))});`);
    }
    await client(rows.join('\n'), 'dbispconfig');

    // The remote API: PHP's built-in server on the loopback, one request at a time (its workers, PHP_CLI_SERVER_WORKERS, would outlive a stop by PID).
    const port = await freePort();
    const php = ['-d', `mysqli.default_socket=${socket}`, '-d', 'error_reporting=E_ALL & ~E_DEPRECATED & ~E_NOTICE & ~E_WARNING', '-d', 'display_errors=0'];
    const server = start('php', [...php, '-S', `127.0.0.1:${port}`, '-t', 'interface/web'], { cwd: root, detached: true, stdio: 'ignore' });
    pids.push(server.pid!);
    const url = `http://127.0.0.1:${port}/remote/json.php`;
    await waitFor("the panel's remote API", async () => (await isAlive(server.pid!)) && fetch(`${url}?login`, { method: 'POST', body: '{}' }).then((r) => r.ok, () => false), 30_000);

    const runJobs = async (): Promise<RunResult> => {
      const result = await run('php', [...php, 'server.php'], { cwd: join(root, 'server'), timeout: 60_000, reject: false });
      if (result.exitCode !== 0) throw new Error(`the panel's job runner failed (${result.exitCode}): ${result.stdout}${result.stderr}`);
      return result;
    };
    return {
      url,
      serverId: 1,
      serverIp: dbHost.address,
      pids: () => [...pids],
      sql: async (text) => (await client(text, 'dbispconfig')).stdout,
      runJobs,
      startCron(seconds = 1) {
        if (cron) return;
        const state: { timer: NodeJS.Timeout; running?: Promise<unknown> } = {
          timer: setInterval(() => {
            if (!state.running) state.running = runJobs().catch(() => undefined).finally(() => (state.running = undefined));
          }, seconds * 1000),
        };
        cron = state;
      },
      async stopCron() {
        if (cron) clearInterval(cron.timer);
        await cron?.running?.catch(() => undefined);
        cron = undefined;
      },
      stop,
      seconds: (Date.now() - started) / 1000,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
