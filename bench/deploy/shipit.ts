import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { checkCurrent, runTool, templatesDir, type BenchContext, type DeployTool } from './tool.js';

const ROOT = '/var/www/deploy-bench/shipit';

/**
 * shipit-deploy (npm) with its standard `deploy` task: a shallow clone of
 * the repository into a fresh local workspace, then on every host a copy
 * of the current release (`cp -a`) and `rsync --compress --del` of the
 * workspace over it, REVISION, symlink switch, cleanup. shipit runs the
 * system's ssh and rsync, given the lab's key and known_hosts as options.
 */
export function shipitTool(ctx: BenchContext): DeployTool {
  const dir = join(ctx.work, 'shipit');
  const shipitfile = join(dir, 'shipitfile.js');
  let cli = '';
  let deployModule = '';
  return {
    name: 'shipit-deploy',
    does: 'shipit deploy (shipit-cli + shipit-deploy): shallow git clone into a local workspace, cp -a of the previous release then rsync -az --del into releases/<id> on each host, REVISION, symlink switch, cleanup; 4 hosts in parallel',
    lacks: 'no build, no env or config files, no validation, no reload, no cache ban, no health check',
    async prepare() {
      const require = createRequire(import.meta.url);
      try {
        cli = join(dirname(require.resolve('shipit-cli/package.json')), 'bin', 'shipit');
        deployModule = require.resolve('shipit-deploy');
      } catch {
        throw new Error('shipit-cli and shipit-deploy are not installed: npm ci (they are devDependencies)');
      }
      await mkdir(dir, { recursive: true });
      // Outside the package, a .js file is CommonJS: what shipit's loader expects.
      await copyFile(join(templatesDir(), 'shipitfile.cjs'), shipitfile);
      const version = (name: string): string => {
        try {
          return `${name} ${(require(`${name}/package.json`) as { version: string }).version}`;
        } catch {
          return name;
        }
      };
      return ['shipit-cli', 'shipit-deploy'].map(version).join(', ');
    },
    async deploy(target) {
      await runTool(process.execPath, [cli, '--shipitfile', shipitfile, 'bench', 'deploy'], {
        cwd: dir,
        timeout: ctx.timeoutMs,
        env: {
          BENCH_SHIPIT_DEPLOY: deployModule,
          BENCH_REPO: `file://${ctx.bare}`,
          BENCH_DEPLOY_TO: `${ROOT}/${target}`,
          BENCH_HOSTS: ctx.webHosts.map((h) => h.address).join(','),
          BENCH_KEEP_RELEASES: String(ctx.keepReleases),
          BENCH_SSH_KEY: ctx.lab.ssh.identity,
          BENCH_KNOWN_HOSTS: ctx.lab.ssh.knownHosts,
          FORCE_COLOR: '0',
        },
      });
    },
    check: (target, marker) => checkCurrent(ctx, `${ROOT}/${target}`, marker),
  };
}
