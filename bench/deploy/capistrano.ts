import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { checkCurrent, onHost, runTool, templatesDir, type BenchContext, type DeployTool } from './tool.js';

const ROOT = '/var/www/deploy-bench/capistrano';
const PACKAGE = 'capistrano';

/**
 * Capistrano 3 (Debian's package) with its standard `deploy` and git
 * strategy: every host keeps a mirror of the repository (cloned from the
 * bare repo at the first deploy, `git remote update` afterwards) and
 * extracts the whole tree of the commit (`git archive | tar`) into a new
 * release, then links `current`.
 */
export function capistranoTool(ctx: BenchContext): DeployTool {
  const dir = join(ctx.work, 'capistrano');
  return {
    name: 'Capistrano',
    does: 'cap deploy (Debian package, git strategy): git remote update of a mirror on each host, git archive | tar of the whole tree into releases/<id>, symlink switch, keep_releases cleanup, revision log; 4 hosts in parallel over net-ssh',
    lacks: 'no build, no env or config files, no validation, no reload, no cache ban, no health check',
    async prepare() {
      await ensureDebianPackage(PACKAGE);
      await acceptNetSshKex(ctx);
      await cp(join(templatesDir(), 'capistrano'), dir, { recursive: true });
      const version = await run('cap', ['--version'], { cwd: dir, timeout: 60_000 });
      return `Capistrano ${/Capistrano Version: (\S+)/.exec(version.stdout)?.[1] ?? '?'}, net-ssh from Debian`;
    },
    async deploy(target) {
      await runTool('cap', ['bench', 'deploy'], {
        cwd: dir,
        timeout: ctx.timeoutMs,
        env: {
          BENCH_REPO: ctx.bare,
          BENCH_DEPLOY_TO: `${ROOT}/${target}`,
          BENCH_HOSTS: ctx.webHosts.map((h) => h.address).join(','),
          BENCH_KEEP_RELEASES: String(ctx.keepReleases),
          BENCH_SSH_KEY: ctx.lab.ssh.identity,
          BENCH_KNOWN_HOSTS: ctx.lab.ssh.knownHosts,
          BENCH_LOG: join(dir, 'capistrano.log'),
        },
      });
    },
    check: (target, marker) => checkCurrent(ctx, `${ROOT}/${target}`, marker),
  };
}

/**
 * The lab's sshd offers only curve25519 key exchange (the cheapest for
 * OpenSSH), which Debian's net-ssh 7 cannot do without the x25519 gem,
 * packaged nowhere in Debian. Each web host's sshd is given ecdh-sha2-nistp256
 * as well, after the curve25519 ones, and reloaded (SIGHUP: it re-executes
 * itself with the new file). OpenSSH clients, which list curve25519 first,
 * still negotiate it: the other tools are unaffected.
 */
async function acceptNetSshKex(ctx: BenchContext): Promise<void> {
  const script = [
    'set -e',
    'file=/etc/ssh/sshd_config',
    'grep -q "^KexAlgorithms .*ecdh-sha2-nistp256" "$file" || sed -i "s/^KexAlgorithms .*/&,ecdh-sha2-nistp256/" "$file"',
    'grep -q "^KexAlgorithms .*ecdh-sha2-nistp256" "$file"',
    '/usr/sbin/sshd -t -f "$file"',
    'kill -HUP "$(cat /run/sshd.pid)"',
  ].join('\n');
  await Promise.all(ctx.webHosts.map((h) => onHost(ctx, h.name, ['sh', '-c', script])));
  // sshd closes its listener while it re-executes itself: wait until it answers with the new algorithm.
  for (const h of ctx.webHosts) {
    for (let attempt = 1; ; attempt++) {
      const probe = await run('ssh', ['-F', ctx.lab.ssh.config, '-o', 'KexAlgorithms=ecdh-sha2-nistp256', h.name, 'true'], { input: '', reject: false, timeout: 10_000 });
      if (probe.exitCode === 0) break;
      if (attempt === 20) throw new Error(`${h.name}: sshd does not accept ecdh-sha2-nistp256 key exchange (needed by net-ssh): ${probe.stderr.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Installs a Debian package when it is missing (apt-get update first), as root. */
async function ensureDebianPackage(name: string): Promise<void> {
  const status = await run('dpkg-query', ['-W', '-f=${db:Status-Status}', name], { reject: false });
  if (status.stdout.trim() === 'installed') return;
  if (process.getuid?.() !== 0) throw new Error(`the Debian package ${name} is missing, and installing it needs root (apt-get install -y ${name})`);
  process.stdout.write(`installing the Debian package ${name} (apt-get update, apt-get install -y ${name})\n`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env, input: '', timeout: 300_000 });
  await run('apt-get', ['install', '-y', '-qq', name], { env, input: '', timeout: 600_000 });
}
