import type { RedisContext } from '../state/redis.js';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { buildRelease, sourceDir, workspaceDir } from '../builder/build-release.js';
import { fetchSource } from '../builder/source-link.js';
import type { GatewayConfig } from '../core/config/types.js';
import type { ProgressLog } from '../core/deploy-event.js';
import { InvalidInputError, MagratheaError } from '../core/errors.js';
import { findEnvironment, resolveInstance } from '../core/manifest/resolve.js';
import { checkPanelDomains } from './ispconfig-domains.js';
import { readApp } from '../builder/manifest.js';
import { readEnvironmentConfigVars } from '../state/config-vars.js';
import { listReleases, markReleaseStatus, recordRelease, type Release } from '../state/releases.js';
import { deploy, formatDeployResult } from './deploy.js';
import { checkDeployAllowed } from './deploy-access.js';
import { DeployFailedError, type DeployJob, type DeployProcessor, type DeployResult } from './job-types.js';
import { redisDeployState } from './redis-state.js';
import { rollbackJob } from './rollback.js';

export interface DeployProcessorOptions {
  /** Read at each job, so that a changed gateway configuration applies to the next deploy. */
  loadConfig: () => Promise<GatewayConfig>;
  redis: RedisContext;
}

/**
 * The worker's processor: build the exported tree once, deploy it to the
 * environment's clusters, record the release. Idempotent: a run restarted
 * after its worker died finds its release (by job id) and converges.
 */
export function createDeployProcessor(options: DeployProcessorOptions): DeployProcessor {
  return async (job: DeployJob): Promise<DeployResult> => {
    const config = await options.loadConfig();
    if (job.data.rollbackTo) return rollbackJob(config, options.redis, job);
    const log: ProgressLog = (line, meta) => void job.log(line, meta);
    const source = await jobSource(config, job.data, log);
    try {
      return await buildAndDeploy(options, config, job, source, log);
    } finally {
      if (source !== job.data.sourcePath) await rm(source, { recursive: true, force: true });
    }
  };
}

/**
 * The exported tree of the job: where the gateway wrote it, when this worker
 * shares the gateway's disk; fetched from the gateway's HTTP API otherwise.
 */
async function jobSource(config: GatewayConfig, data: DeployJob['data'], log: ProgressLog): Promise<string> {
  if (existsSync(data.sourcePath)) return data.sourcePath;
  if (!data.sourceUrl || !data.sourceKey) throw new MagratheaError(`the source of this deploy (${data.sourcePath}) is not on this machine, and the job says nowhere to fetch it from`, 'source-missing');
  const dest = sourceDir(config.gateway.stateDir, data.app, data.commit);
  const started = Date.now();
  await fetchSource({ url: data.sourceUrl, key: data.sourceKey }, dest);
  log(`fetched the source from the gateway in ${((Date.now() - started) / 1000).toFixed(1)} s`, { phase: 'source', status: 'done' });
  return dest;
}

async function buildAndDeploy(options: DeployProcessorOptions, config: GatewayConfig, job: DeployJob, sourcePath: string, log: ProgressLog): Promise<DeployResult> {
  const { app: name, env, commit, ref, requestedBy } = job.data;
  const app = await readApp(sourcePath, name);
  const environment = findEnvironment(app.manifest, env);
  if (!environment) throw new MagratheaError(`${name} has no environment "${env}" in magrathea.yml`, 'unknown-environment');
  const vars = await readEnvironmentConfigVars(options.redis, name, environment);
  // A review instance records its own branch (the environment has only its pattern).
  const branch = environment.review && ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
  const instanceOn = (cluster: string) => {
    const resolved = resolveInstance(app.manifest, { app: name, env, cluster, ...(branch ? { branch } : {}) }, vars);
    if ('problems' in resolved) throw new InvalidInputError(resolved.problems);
    return resolved.instance;
  };
  // Clusters the environment does not deploy to are refused by deploy(), naming them.
  const instances = (job.data.clusters ?? environment.clusters).filter((c) => environment.clusters.includes(c)).map(instanceOn);
  // Before any release is recorded or built.
  await checkDeployAllowed(config, redisDeployState(options.redis), requestedBy, instances);
  await checkPanelDomains(config, instances);
  const release = await releaseOf(options.redis, job, { app: name, env, commit, ref, requestedBy, jobId: job.id });
  log(`${name} (${env}): release ${release.id} of ${commit.slice(0, 12)}${job.attempt > 1 ? ` (run ${job.attempt})` : ''}`, { phase: 'release', status: 'info', release: release.id });
  // Build commands cannot differ per cluster: any cluster of the environment gives them, placeholders replaced.
  const resolved = { instance: instanceOn(environment.clusters[0]!) };
  // One release serves every cluster: no cluster's shared paths may cross a link in it.
  const shared = [...new Set(environment.clusters.flatMap((cluster) => instanceOn(cluster).shared))];
  log('build', { phase: 'build', status: 'started' });
  let built;
  try {
    built = await buildRelease({
      tree: sourcePath,
      commit,
      workspace: workspaceDir(config.gateway.stateDir, name, env),
      commands: resolved.instance.build,
      settings: config.gateway.builds,
      shared,
      hidden: [config.gateway.stateDir, config.dir],
      log: (l) => log(`  ${l}`),
    });
  } catch (e) {
    await markReleaseStatus(options.redis, { app: name, env, id: release.id, status: 'failed', message: (e as Error).message });
    throw e;
  }

  const result = await deploy(
    { app: name, env, release: release.id, manifest: app.manifest, source: built.dir, vars, owner: `job-${job.id}`, ...(job.data.clusters ? { clusters: job.data.clusters } : {}), ...(branch ? { branch } : {}) },
    { config, state: redisDeployState(options.redis), log },
  );
  const table = formatDeployResult(result);
  const failure = result.clusters.find((c) => c.error)?.error;
  await markReleaseStatus(options.redis, {
    app: name,
    env,
    id: release.id,
    status: result.ok ? 'live' : result.clusters.some((c) => c.status === 'live') ? 'live' : result.clusters.some((c) => c.status === 'rolled-back') ? 'rolled-back' : 'failed',
    ...(failure ? { message: failure } : {}),
  });
  // A failed deploy is reported, not retried: every cluster was left on a release that serves.
  if (!result.ok) throw new DeployFailedError(`${table}deploy of ${name} ${release.id} failed: ${failure ?? 'see above'}`);
  return { summary: table, release: release.id, clusters: result.clusters };
}

async function releaseOf(redis: RedisContext, job: DeployJob, options: Parameters<typeof recordRelease>[1]): Promise<Release> {
  const earlier = (await listReleases(redis, options.app, options.env, { limit: 20 })).find((r) => r.jobId === job.id);
  return earlier ?? recordRelease(redis, options);
}
