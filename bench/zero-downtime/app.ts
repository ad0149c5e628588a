import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { buildRelease, exportTree } from '../../src/builder/build-release.js';
import type { GatewayConfig } from '../../src/core/config/types.js';
import { deploy, hostSshSettings } from '../../src/deployer/deploy.js';
import { deployCluster } from '../../src/deployer/deploy-cluster.js';
import type { ClusterOutcome, DeployOutcome, DeployState } from '../../src/deployer/types.js';
import { readApp } from '../../src/builder/manifest.js';

/** How long the slow page sleeps: longer than a switch takes, so requests are in flight across it. */
export const SLOW_SECONDS = 2.5;

/** What a version of the app says: its code (a literal in its pages) and its config (an env var, its domains). */
export interface AppVersion {
  code: string;
  mark: string;
  /** A second domain, `www.<app>.example.com`: a config change of every service (vhost, pool, VCL, HAProxy map). */
  extraDomain: boolean;
}

/** The body of the short page and the start of the slow one's, for a version: what a request of it must answer. */
export function expectedBody(version: AppVersion): string {
  return `${version.code} ${version.mark}`;
}

/**
 * A tiny app: `/` answers at once with its version and web host,
 * `/slow.php` sleeps SLOW_SECONDS then says the same and when PHP started it. Both say their
 * code and config, so an answer shows which release served it.
 */
export async function writeApp(repo: string, app: string, clusters: string[], version: AppVersion): Promise<void> {
  await mkdir(join(repo, 'public'), { recursive: true });
  const domains = [`${app}.example.com`, ...(version.extraDomain ? [`www.${app}.example.com`] : [])];
  await writeFile(
    join(repo, 'magrathea.yml'),
    [
      'stack: { php: "8.2", docroot: public }',
      `domains: [${domains.map((d) => JSON.stringify(d)).join(', ')}]`,
      `env: { MARK: ${JSON.stringify(version.mark)}, SERVED_BY: "\${host}" }`,
      'cache: { pass: ["^/slow"] }',
      'health: { path: /health.php }',
      'environments:',
      `  production: { branch: master, clusters: [${clusters.join(', ')}], strategy: parallel }`,
      '',
    ].join('\n'),
  );
  const says = `'${version.code} ' . getenv('MARK')`;
  await writeFile(join(repo, 'public/index.php'), `<?php\nheader('Cache-Control: no-store');\necho ${says}, ' ', getenv('SERVED_BY'), "\\n";\n`);
  await writeFile(
    join(repo, 'public/slow.php'),
    `<?php\n$start = $_SERVER['REQUEST_TIME_FLOAT'];\nusleep(${SLOW_SECONDS * 1e6});\nheader('Cache-Control: no-store');\nprintf("%s %s %.3f\\n", ${says}, getenv('SERVED_BY'), $start);\n`,
  );
  await writeFile(join(repo, 'public/health.php'), "<?php\necho \"ok\\n\";\n");
}

export async function commitAll(repo: string, message: string): Promise<string> {
  const git = (...args: string[]) => run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args]);
  await git('add', '-A');
  await git('commit', '-q', '--allow-empty', '-m', message);
  return (await git('rev-parse', 'HEAD')).stdout.trim();
}

export interface DeployContext {
  app: string;
  repo: string;
  work: string;
  config: GatewayConfig;
  state: DeployState;
  log: (line: string) => void;
}

/** Builds the repository's HEAD and deploys it as `release`, the way a push does. */
export async function deployHead(ctx: DeployContext, release: string): Promise<DeployOutcome> {
  const head = (await run('git', ['-C', ctx.repo, 'rev-parse', 'HEAD'])).stdout.trim();
  const tree = join(ctx.work, `tree-${release}`);
  await exportTree(ctx.repo, head, tree, `${ctx.repo}.checkout`);
  const built = await buildRelease({ tree, commit: head, workspace: join(ctx.work, 'build'), commands: [] });
  const { manifest } = await readApp(ctx.repo, ctx.app);
  return deploy({ app: ctx.app, env: 'production', release, manifest, source: built.dir }, { config: ctx.config, state: ctx.state, log: ctx.log });
}

/** Puts a cluster back on `release` with the configuration it went live with, as `magrathea rollback` does. */
export async function rollBack(ctx: DeployContext, cluster: string, release: string): Promise<ClusterOutcome> {
  const instance = await ctx.state.releaseInstance(ctx.app, 'production', release, cluster);
  if (!instance) throw new Error(`release ${release} never went live on ${cluster}`);
  return deployCluster({
    cluster: ctx.config.clusters[cluster]!,
    instance,
    release,
    runHook: false,
    keepReleases: ctx.config.gateway.keepReleases,
    ssh: hostSshSettings(ctx.config),
    state: ctx.state,
    log: ctx.log,
  });
}
