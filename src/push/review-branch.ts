import { readManifest } from '../builder/manifest.js';
import { targetForBranch } from '../core/manifest/resolve.js';
import type { EnvironmentDef } from '../core/manifest/types.js';
import { undeployEnvironment } from '../deployer/undeploy-env.js';
import type { GatewayContext } from '../dispatch/context.js';
import { destroyEnvKeys } from '../state/destroy-app.js';
import { readInstanceReleases } from '../state/host-releases.js';
import { acquirePushLock, releasePushLock } from '../state/push-lock.js';
import { claimReviewInstance, readReviewInstance, releaseReviewInstance } from '../state/review-branches.js';
import { checkBranchAt } from './branch-at.js';
import { pushGone } from './push-token.js';
import type { Push } from './push.js';
import { Rejection } from './rejection.js';

/**
 * The review instance `environment` (`review-x`) for `branch`: claimed for
 * it, or the push refused when another branch of the same slug holds it.
 * Returns what gives the claim back should this push not leave the
 * instance live (a first push that fails leaves the name free), or says
 * what is left when a refused first push left it live somewhere.
 */
export async function claimReviewBranch(gateway: GatewayContext, push: Push, environment: EnvironmentDef, branch: string, oldRev: string): Promise<() => Promise<void>> {
  const holder = await claimReviewInstance(gateway.state, push.app, environment.name, branch);
  if (holder !== branch) {
    throw new Rejection(
      `${branch}: its review instance would be ${environment.name} (branch names are slugged: lower case, a-z, 0-9 and dashes), which branch ${holder} already has: rename this branch, or delete ${holder} first (git push magrathea :${holder})`,
    );
  }
  return async () => {
    const live = Object.keys(await readInstanceReleases(gateway.state, push.app, environment.name)).sort();
    if (live.length === 0) await releaseReviewInstance(gateway.state, push.app, environment.name, branch);
    // A rolling deploy that failed on a later cluster: the branch is not stored, so deleting it cannot remove the instance.
    else if (/^0+$/.test(oldRev)) {
      push.say(`warning: ${branch} is not stored, but its review instance ${push.app} (${environment.name}) is live on ${live.join(', ')}: push it again, or an admin takes it off with "magrathea instances:remove ${push.app}@${live[0]} --env ${environment.name}"`);
    }
  };
}

/**
 * Whether a push may delete `branch`: a branch of a review environment may
 * go (`env`: its instance, when it has one; `none`: the instance it would
 * have had); any other branch may feed an environment, and is refused.
 * Asked for every deletion of a push before anything of it is deployed.
 */
export async function checkDeletion(gateway: GatewayContext, push: Push, oldRev: string, branch: string): Promise<{ env: string } | { none: string }> {
  const env = await readReviewInstance(gateway.state, push.app, branch);
  if (env !== undefined) return { env };
  const manifest = await readManifest({ repo: push.gitDir, rev: oldRev, ref: branch, env: push.gitEnv }, 'magrathea.yml').catch(() => undefined);
  const target = manifest && targetForBranch(manifest, branch);
  if (!target || !('environment' in target) || !target.environment.review) {
    throw new Rejection(`deleting branches is refused: ${branch} may feed an environment (only a branch of a review environment, fed by a pattern like "review/*", may be deleted: that removes its instance)`);
  }
  return { none: target.environment.name };
}

/**
 * A push deleting a branch of a review environment: its instance (if it
 * has one) is taken off every host first, then its state on the gateway,
 * and the push reports it; should a host fail, the push is refused and
 * the branch stays, so that deleting it again finishes the job.
 */
export async function deleteBranch(gateway: GatewayContext, push: Push, oldRev: string, branch: string): Promise<void> {
  const deletion = await checkDeletion(gateway, push, oldRev, branch);
  if ('none' in deletion) {
    push.say(`${branch}: deleted; it had no review instance (${deletion.none}) to remove`);
    return;
  }
  const { env } = deletion;
  await acquirePushLock(gateway.state, push.app, env, push.token, {
    onWait: () => push.say(`waiting: another push of ${push.app} (${env}) is deploying`),
    gone: pushGone,
    onFreed: (holder) => push.say(`an earlier push of ${push.app} (${env}) ended without freeing its lock (${holder}): freed`),
  });
  let removed = false;
  try {
    await checkBranchAt(push.gitDir, push.gitEnv, `refs/heads/${branch}`, oldRev);
    // A deploy running or waiting would put it back once removed.
    const deploys = (await gateway.queue.queue.getJobs(['active', 'waiting', 'delayed', 'prioritized'])).filter((j) => j?.data.app === push.app && j.data.env === env);
    if (deploys.length > 0) throw new Rejection(`${branch}: a deploy of ${push.app} (${env}) is running or queued (job ${deploys.map((j) => j.id).join(', ')}): delete the branch again once it has ended`);
    push.say(`${branch}: removing its review instance ${push.app} (${env}) from every host`);
    const outcome = await undeployEnvironment({ app: push.app, env, config: gateway.config, redis: gateway.state, log: push.say, report: push.say }).catch((e: Error) => {
      throw new Rejection(`${branch}: removing ${push.app} (${env}): ${e.message}\nthe branch and the gateway's record of the instance are kept: delete the branch again to finish`);
    });
    await destroyEnvKeys(gateway.state, push.app, env);
    await releaseReviewInstance(gateway.state, push.app, env, branch);
    push.say(`${branch}: deleted; ${push.app} (${env}) is gone from ${outcome.clusters.length > 0 ? outcome.clusters.join(', ') : 'the hosts (it was on none)'}: releases, config vars and database with it (its usage history is kept)`);
    removed = true;
  } finally {
    // Kept on success until post-receive, once the branch is gone.
    if (!removed) await releasePushLock(gateway.state, push.app, env, push.token);
  }
}
