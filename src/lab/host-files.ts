import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DEFAULT_PATHS, DEFAULT_SESSIONS } from '../core/config/validate.js';
import { edgeLogPath } from '../core/accounting/edge-log.js';
import { pathExists } from '../lib/paths.js';
import type { HostPaths } from './paths.js';
import { LAB_PORTS, type LabHost } from './plan.js';
import { SESSIONS_CONF } from './services.js';
import { ensureKey } from './ssh-files.js';

const WRITTEN_BY = 'Written by `magrathea lab up` for the lab host';

/** Apache modules Magrathea's vhosts use; the lab enables them as Puppet would on a real web host. */
export const APACHE_MODULES = ['alias', 'proxy', 'proxy_fcgi', 'remoteip', 'rewrite', 'headers', 'setenvif'];

/**
 * Provisions a host the way Puppet provisions a real one: its sshd, root's
 * key, and on web hosts Apache listening on the host's own address with
 * Magrathea's one include line. Written into the host's layer while its
 * namespace is not mounted (changing an overlay's upper layer under a
 * mounted overlay is undefined). Returns the host's public SSH host key.
 */
export async function provisionHost(host: LabHost, paths: HostPaths, authorizedKey: string): Promise<string> {
  const put = async (path: string, content: string, mode = 0o644): Promise<void> => {
    const file = join(paths.fs, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
    await chmod(file, mode);
  };

  const hostKey = await ensureKey(join(paths.fs, '/etc/ssh/ssh_host_ed25519_key'), `root@${host.name}`);
  await put('/etc/ssh/sshd_config', renderSshdConfig(host));
  await mkdir(join(paths.fs, '/root/.ssh'), { recursive: true, mode: 0o700 });
  await put('/root/.ssh/authorized_keys', `${authorizedKey}\n`, 0o600);

  if (host.roles.includes('web')) {
    await put('/etc/apache2/ports.conf', `# ${WRITTEN_BY} ${host.name}: Apache listens on this host's address only.\nListen ${host.address}:${LAB_PORTS.web}\n`);
    const base = await readFile('/etc/apache2/apache2.conf', 'utf8');
    await put('/etc/apache2/apache2.conf', `${base}\n# ${WRITTEN_BY} ${host.name}.\nServerName ${host.name}\nIncludeOptional magrathea.d/*.conf\n`);
    await mkdir(join(paths.fs, '/etc/apache2/magrathea.d'), { recursive: true });
    await enableApacheModules(paths);
  }
  if (host.roles.includes('cache')) {
    await mkdir(join(paths.fs, '/etc/varnish/magrathea/apps'), { recursive: true });
    // Where varnishncsa writes the edge log (it creates the file, not its directory).
    await mkdir(join(paths.fs, dirname(edgeLogPath(DEFAULT_PATHS))), { recursive: true });
  }
  if (host.roles.includes('balancer')) await mkdir(join(paths.fs, '/etc/haproxy/magrathea.d'), { recursive: true });
  if (host.roles.includes('sessions')) {
    // As Puppet would set a real store up: an admin password (kept across `lab up`), in a root-only file for the gateway's deploys.
    const file = join(paths.fs, DEFAULT_SESSIONS.passwordFile);
    const password = (await pathExists(file)) ? (await readFile(file, 'utf8')).trim() : randomBytes(24).toString('base64url');
    await put(DEFAULT_SESSIONS.passwordFile, `${password}\n`, 0o600);
    await put(SESSIONS_CONF, renderSessionsConf(host, password), 0o600);
  }
  return hostKey;
}

/** What a2enmod does, without its Perl start-up per host: the same relative symlinks. */
async function enableApacheModules(paths: HostPaths): Promise<void> {
  const enabled = join(paths.fs, '/etc/apache2/mods-enabled');
  await mkdir(enabled, { recursive: true });
  for (const mod of APACHE_MODULES) {
    for (const ext of ['load', 'conf']) {
      if (!(await pathExists(`/etc/apache2/mods-available/${mod}.${ext}`))) continue;
      const link = join(enabled, `${mod}.${ext}`);
      if (!(await pathExists(link)) && !(await pathExists(`/etc/apache2/mods-enabled/${mod}.${ext}`))) await symlink(`../mods-available/${mod}.${ext}`, link);
    }
  }
}

/** The lab's FPM `process_control_timeout`: above any request of the lab's tests and demo, and above the deployer's minimum (MIN_PROCESS_CONTROL_TIMEOUT). */
export const LAB_PROCESS_CONTROL_TIMEOUT = '30s';

/**
 * Each PHP version's php-fpm.conf, as Puppet would set it on a real web
 * host: the package's, with `process_control_timeout` set in [global], so
 * that a reload lets requests in flight finish (Debian's 0 kills them).
 * The deployer refuses a host without it.
 */
export async function provisionFpm(paths: HostPaths, phpVersions: readonly string[]): Promise<void> {
  for (const v of phpVersions) {
    const path = `/etc/php/${v}/fpm/php-fpm.conf`;
    const base = await readFile(path, 'utf8');
    const own = base.replace(/^\s*process_control_timeout\s*=.*$/gm, '').replace(/^\[global\]$/m, `[global]\n; ${WRITTEN_BY}: finish requests in flight on a reload.\nprocess_control_timeout = ${LAB_PROCESS_CONTROL_TIMEOUT}`);
    const file = join(paths.fs, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, own);
  }
}

/**
 * Key-only root login on the host's own address. No PAM: its session
 * modules cost time on every command and key-only root needs none. Only
 * classic curve25519 key exchange: the default post-quantum one costs
 * about 0.13 s of CPU per connection, and every lab host shares the same cores.
 */
export function renderSshdConfig(host: LabHost): string {
  return [
    `# ${WRITTEN_BY} ${host.name}.`,
    `ListenAddress ${host.address}:${LAB_PORTS.ssh}`,
    'HostKey /etc/ssh/ssh_host_ed25519_key',
    'PidFile /run/sshd.pid',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org',
    'AcceptEnv LANG LC_*',
    // Deploys open one session per host and step, in parallel.
    'MaxStartups 100:30:200',
    'MaxSessions 50',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

/** The session store: on the host's address only, in memory only (sessions are not worth a disk in the lab), no client without the password. */
function renderSessionsConf(host: LabHost, password: string): string {
  return [
    `# ${WRITTEN_BY} ${host.name}: the cluster's session store.`,
    `bind ${host.address}`,
    `port ${LAB_PORTS.sessions}`,
    'daemonize yes',
    'pidfile /run/redis-sessions.pid',
    'logfile /var/log/redis-sessions.log',
    'dir /run',
    'save ""',
    'appendonly no',
    `requirepass ${password}`,
    '',
  ].join('\n');
}

/**
 * Writes a file into a host's layer unless the host already has it. For
 * the files Magrathea owns (main.vcl, the HAProxy frontend): the lab gives
 * a fresh host the empty cluster's versions; after a deploy they are the
 * deploy's, and bringing the lab up again must not undo it.
 */
export async function writeIfAbsent(paths: HostPaths, path: string, content: string): Promise<void> {
  const file = join(paths.fs, path);
  if (await pathExists(file)) return;
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content);
}
