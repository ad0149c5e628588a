import type { RedisContext } from '../state/redis.js';
import type { GatewayConfig } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';
import { readInstanceReleases } from '../state/host-releases.js';
import { markReleaseStatus, readRelease } from '../state/releases.js';
import { formatDeployResult, hostSshSettings } from './deploy.js';
import { deployCluster } from './deploy-cluster.js';
import { DeployFailedError, type DeployJob, type DeployResult } from './job-types.js';
import { redisDeployState } from './redis-state.js';
import type { ClusterOutcome } from './types.js';

/**
 * Switches an instance's clusters back to an earlier release that is still
 * on the hosts, with the configuration that release went live with: its
 * files are already there, so this is a switch, a reload and a check, with
 * no build, no transfer and no release hook (migrations do not run backwards).
 */
export async function rollbackJob(config: GatewayConfig, redis: RedisContext, job: DeployJob): Promise<DeployResult> {
  const { app, env, rollbackTo: target } = job.data;
  const release = await readRelease(redis, app, env, target!);
  if (!release) throw new MagratheaError(`${app} (${env}) has no release ${target}`, 'release-not-found');
  const state = redisDeployState(redis);
  const live = await readInstanceReleases(redis, app, env);
  const clusters = job.data.clusters ?? Object.keys(live).sort();
  if (clusters.length === 0) throw new MagratheaError(`${app} (${env}) is live on no cluster: nothing to roll back`, 'nothing-live');

  const outcomes: ClusterOutcome[] = [];
  for (const name of clusters) {
    const cluster = config.clusters[name];
    if (!cluster) throw new MagratheaError(`no cluster "${name}" in the gateway configuration`, 'unknown-cluster');
    const instance = await state.releaseInstance(app, env, target!, name);
    if (!instance) throw new MagratheaError(`release ${target} of ${app} (${env}) never went live on ${name}: cannot roll back to it there`, 'release-not-live');
    void job.log(job.data.reapply ? `${name}: applying ${app} (${env}) ${target} again, every config file` : `${name}: rolling back ${app} (${env}) from ${live[name]?.release ?? 'nothing'} to ${target}`, { phase: 'rollback', status: 'started', cluster: name, release: target! });
    const outcome = await deployCluster({
      cluster,
      instance,
      release: target!,
      runHook: false,
      ...(job.data.reapply ? { force: true } : {}),
      owner: `job-${job.id}`,
      keepReleases: config.gateway.keepReleases,
      ssh: hostSshSettings(config),
      state,
      log: (line, meta) => void job.log(line, meta),
    });
    outcomes.push(outcome);
    if (outcome.status !== 'live') break;
  }
  const result = { app, env, release: target!, ok: outcomes.every((o) => o.status === 'live') && outcomes.length === clusters.length, clusters: outcomes };
  const table = formatDeployResult(result);
  if (!result.ok) throw new DeployFailedError(`${table}rollback of ${app} to ${target} failed: ${outcomes.find((o) => o.error)?.error ?? 'see above'}`);
  await markReleaseStatus(redis, { app, env, id: target!, status: 'live', message: `${job.data.reapply ? 'applied again' : 'rolled back to'} on ${clusters.join(', ')}` });
  return { summary: table, release: target, clusters: outcomes };
}
