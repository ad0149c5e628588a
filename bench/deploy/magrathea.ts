import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { run } from '../../src/adapters/exec.js';
import { sshMasters } from '../../src/adapters/ssh-masters.js';
import { createKeys } from '../../src/state/keys.js';
import { openRedis, type RedisHandle } from '../../src/state/redis.js';
import { buildRelease, checkoutDir, exportTree } from '../../src/builder/build-release.js';
import { loadGatewayConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/core/config/types.js';
import { resolveInstance } from '../../src/core/manifest/resolve.js';
import { formatProblem } from '../../src/core/source.js';
import { deploy, formatDeployResult } from '../../src/deployer/deploy.js';
import { redisDeployState } from '../../src/deployer/redis-state.js';
import type { DeployState } from '../../src/deployer/types.js';
import { readApp } from '../../src/builder/manifest.js';
import type { BenchContext, DeployTool } from './tool.js';

const ENV = 'production';

/** The app name Magrathea deploys `target` as: each first deploy is a new app, with its own domain. */
export function magratheaApp(target: string): string {
  return `deploy-bench-${target}`;
}

/**
 * Magrathea's deploy as the worker runs it, less the queue: the commit
 * exported (git archive), built in the app's workspace (REVISION, mtimes of
 * unchanged files kept), then deployed to the cluster: every host prepared
 * in parallel over one SSH connection each (rsync --link-dest, env file,
 * configs staged and checked by the real tools), switched together, FPM
 * (and on config changes Apache, Varnish, HAProxy) reloaded, the cache
 * banned, the health check passed through every web host and the edge,
 * old releases cleaned up.
 */
export function magratheaTool(ctx: BenchContext): DeployTool {
  let config: GatewayConfig;
  let redis: RedisHandle | undefined;
  let state: DeployState;
  const releases = new Map<string, number>();
  return {
    name: 'Magrathea',
    does: 'export from a kept checkout (git read-tree, hard links) + build (REVISION, mtimes kept) + rsync --link-dest to 4 web hosts in parallel over one ssh connection each, env + vhost/pool/VCL/HAProxy files staged and checked on the hosts with the real tools, switch, the instance\'s FPM workers replaced (FPM, Apache, Varnish, HAProxy reloaded on config changes), Varnish ban, health check through every web host and the edge, cleanup',
    lacks: 'the BullMQ queue and the release record in Redis (milliseconds)',
    async prepare() {
      config = await loadGatewayConfig(ctx.lab.config);
      config.gateway.stateDir = join(ctx.work, 'state');
      config.gateway.keepReleases = ctx.keepReleases;
      redis = await openRedis({ stateDir: config.gateway.stateDir, env: {} });
      state = redisDeployState({ redis: redis.client, keys: createKeys(`deploybench${process.pid}`) });
      return 'this checkout, as a library';
    },
    async deploy(target) {
      const app = magratheaApp(target);
      const n = (releases.get(target) ?? 0) + 1;
      releases.set(target, n);
      const marks: [string, number][] = [];
      const mark = (name: string): void => void marks.push([name, performance.now()]);
      mark('start');
      const commit = (await run('git', ['-C', ctx.repo, 'rev-parse', 'HEAD'])).stdout.trim();
      const tree = join(config.gateway.stateDir, 'sources', app, `${commit}-${n}`);
      try {
        await exportTree(ctx.repo, commit, tree, checkoutDir(config.gateway.stateDir, app));
        const source = await readApp(tree, app);
        const environment = source.manifest.environments.find((e) => e.name === ENV)!;
        const resolved = resolveInstance(source.manifest, { app, env: ENV, cluster: environment.clusters[0]! });
        if ('problems' in resolved) throw new Error(resolved.problems.map(formatProblem).join('\n'));
        mark('export');
        const built = await buildRelease({ tree, commit, workspace: join(config.gateway.stateDir, 'builds', app, ENV), commands: resolved.instance.build });
        mark('build');
        const log = (line: string): void => {
          if (/: preparing \d+ hosts$/.test(line)) mark('connect');
          // Each host's checks run while the others are still prepared: one phase.
          else if (/: switching \d+ hosts to /.test(line)) mark('prepare+check');
        };
        const result = await deploy({ app, env: ENV, release: `r${n}`, manifest: source.manifest, source: built.dir }, { config, state, log });
        mark('switch+verify');
        if (!result.ok) throw new Error(`Magrathea's deploy failed:\n${formatDeployResult(result)}`);
        const phases: Record<string, number> = {};
        for (let i = 1; i < marks.length; i++) phases[marks[i]![0]] = (marks[i]![1] - marks[i - 1]![1]) / 1000;
        const hosts = result.clusters[0]?.transferred ?? {};
        return { phases, transferred: ctx.webHosts.map((h) => hosts[h.name] ?? NaN) };
      } finally {
        await rm(tree, { recursive: true, force: true });
      }
    },
    async check(target, marker) {
      const domain = `${magratheaApp(target)}.deploy-bench.test`;
      const urls = [...ctx.webHosts.map((h) => `http://${h.address}/`), `${ctx.lab.edges[0]!.url}/`];
      await Promise.all(
        urls.map(async (url) => {
          const page = await run('curl', ['-s', '-S', '--max-time', '10', '-H', `Host: ${domain}`, url], { reject: false });
          if (!page.stdout.includes(marker)) throw new Error(`${url} (Host: ${domain}) does not serve "${marker}" after the deploy: ${page.stdout.slice(0, 200) || page.stderr.trim()}`);
        }),
      );
    },
    async close() {
      // The SSH masters kept between its deploys (gateway.yml ssh.master_idle), stopped by pid.
      await sshMasters.close();
      await redis?.stop();
    },
  };
}
