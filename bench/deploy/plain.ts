import { run } from '../../src/adapters/exec.js';
import { checkCurrent, onHost, type BenchContext, type DeployTool } from './tool.js';

const ROOT = '/var/www/deploy-bench/plain';

/**
 * The floor: for each web host in parallel, the checked-out tree rsynced to
 * `releases/<id>` with `--link-dest` to the previous release, then
 * `current` switched by a relative symlink renamed over the old one.
 */
export function plainTool(ctx: BenchContext): DeployTool {
  const releases = new Map<string, number>();
  return {
    name: 'plain rsync',
    does: 'rsync -a --delete --link-dest=../<previous> of the checked-out tree (.git excluded) to releases/<id>, ln -sfn + mv -T; 4 hosts in parallel, 2 ssh connections per host',
    lacks: 'no export, no build, no env or config files, no validation, no reload, no cache ban, no health check, no cleanup',
    async prepare() {
      const rsync = /version (\S+)/.exec((await run('rsync', ['--version'])).stdout)?.[1] ?? '?';
      const ssh = (await run('ssh', ['-V'], { input: '' })).stderr.trim().split(',')[0];
      return `rsync ${rsync}, ${ssh}`;
    },
    async deploy(target) {
      const n = (releases.get(target) ?? 0) + 1;
      releases.set(target, n);
      const root = `${ROOT}/${target}`;
      await Promise.all(
        ctx.webHosts.map(async (h) => {
          const link = n > 1 ? [`--link-dest=../r${n - 1}`] : [];
          await run('rsync', ['-a', '--delete', '--mkpath', ...link, '--exclude=/.git', '-e', `ssh -F ${ctx.lab.ssh.config}`, `${ctx.repo}/`, `${h.name}:${root}/releases/r${n}/`], {
            input: '',
            timeout: ctx.timeoutMs,
          });
          await onHost(ctx, h.name, ['sh', '-c', 'ln -sfn "releases/$2" "$1/current.tmp" && mv -T "$1/current.tmp" "$1/current"', 'switch', root, `r${n}`]);
        }),
      );
    },
    check: (target, marker) => checkCurrent(ctx, `${ROOT}/${target}`, marker),
  };
}
