import { quotaWarnings } from '../accounting/read-usage.js';
import { MagratheaError } from '../core/errors.js';
import { checkAllInstances, targetForBranch } from '../core/manifest/resolve.js';
import { formatProblem } from '../core/source.js';
import { checkBranch, checkTag } from '../core/values.js';
import type { GatewayContext } from '../dispatch/context.js';
import { acquirePushLock, heldPushLocks, releasePushLock } from '../state/push-lock.js';
import { readManifest } from '../builder/manifest.js';
import { checkBranchAt } from './branch-at.js';
import type { Push } from './push.js';
import { pushGone, pushToken } from './push-token.js';
import { Rejection } from './rejection.js';
import { checkDeletion, claimReviewBranch, deleteBranch } from './review-branch.js';
import { submitDeploy } from './submit.js';
import { readInstanceReleases } from '../state/host-releases.js';

export type { Push } from './push.js';
export { Rejection } from './rejection.js';

const ZERO = /^0+$/;

/**
 * pre-receive: every ref checked first (a push with one bad ref, or
 * deleting a branch that is not a review one, is rejected before any of
 * its branches deploys), then each branch that feeds an environment
 * deployed in turn, one push per app and environment at a time, then the
 * review branches it deletes removed. Throws a Rejection (or any error) to
 * reject the whole push.
 */
export async function preReceive(gateway: GatewayContext, push: Push, updates: readonly (readonly string[])[]): Promise<void> {
  const clusters = push.options.filter((o) => o.startsWith('cluster=')).map((o) => o.slice('cluster='.length));
  for (const option of push.options) {
    if (!option.startsWith('cluster=')) throw new Rejection(`unknown push option ${JSON.stringify(option)}; known: cluster=NAME (deploy that cluster only)`);
  }
  for (const [, newRev, ref] of updates as [string, string, string][]) {
    const problem = refProblem(ref, ZERO.test(newRev));
    if (problem) throw new Rejection(problem);
  }
  for (const [oldRev, newRev, ref] of updates as [string, string, string][]) {
    if (ZERO.test(newRev) && ref.startsWith('refs/heads/')) await checkDeletion(gateway, push, oldRev, ref.slice('refs/heads/'.length));
  }
  // Deletions last: a push whose deploy is refused must not have taken a review instance off its hosts first.
  const deletionsLast = [...(updates as [string, string, string][])].sort((a, b) => Number(ZERO.test(a[1])) - Number(ZERO.test(b[1])));
  for (const [oldRev, newRev, ref] of deletionsLast) {
    if (ref.startsWith('refs/tags/')) {
      push.say(`${ref}: a tag: stored, nothing deployed`);
      continue;
    }
    const branch = ref.slice('refs/heads/'.length);
    if (ZERO.test(newRev)) {
      await deleteBranch(gateway, push, oldRev, branch);
      continue;
    }

    const manifest = await readManifest({ repo: push.gitDir, rev: newRev, ref: branch, env: push.gitEnv }, 'magrathea.yml').catch((e: Error) => {
      throw new Rejection(e.message);
    });
    const problems = checkAllInstances(manifest, push.app, undefined, branch);
    if (problems.length > 0) throw new Rejection(problems.map(formatProblem).join('\n'));
    const target = targetForBranch(manifest, branch);
    if (!target) {
      const fed = manifest.environments.map((e) => `${e.branch} -> ${e.name}`).join(', ');
      push.say(`${branch}: feeds no environment (${fed}): pushed, nothing deployed`);
      continue;
    }
    if ('error' in target) throw new Rejection(target.error);
    const environment = target.environment;
    for (const c of clusters) {
      if (!environment.clusters.includes(c)) throw new Rejection(`push option cluster=${c}: environment ${environment.name} deploys to ${environment.clusters.join(', ')}`);
    }

    await acquirePushLock(gateway.state, push.app, environment.name, push.token, {
      onWait: () => push.say(`waiting: another push of ${push.app} (${environment.name}) is deploying`),
      gone: pushGone,
      onFreed: (holder) => push.say(`an earlier push of ${push.app} (${environment.name}) ended without freeing its lock (${holder}): freed; a deploy it queued comes first`),
    });
    let deployed = false;
    let unclaim: (() => Promise<void>) | undefined;
    try {
      await checkBranchAt(push.gitDir, push.gitEnv, ref, oldRev);
      if (environment.review) {
        unclaim = await claimReviewBranch(gateway, push, environment, branch, oldRev);
        push.say(`${branch}: review instance ${push.app} (${environment.name}) of environment ${environment.review.environment}`);
      }
      const request = { app: push.app, env: environment.name, commit: newRev, ref, gitDir: push.gitDir, requestedBy: push.pusher, clusters, gitEnv: push.gitEnv };
      const result = await submitDeploy(gateway, request, { say: push.say, ...(push.signal ? { signal: push.signal } : {}) }).catch((e: Error) => {
        throw new Rejection(e.message);
      });
      push.say(result.summary.trimEnd());
      deployed = true;
      for (const warning of await quotaWarnings(gateway.state, gateway.config, push.app).catch(() => [] as string[])) push.say(`warning: ${warning}`);
      // Not removed by a push: a cluster taken out of the list by mistake must not take the app off it.
      for (const cluster of Object.keys(await readInstanceReleases(gateway.state, push.app, environment.name)).filter((c) => !environment.clusters.includes(c)).sort()) {
        push.say(`warning: ${push.app} (${environment.name}) is still live on ${cluster}, which magrathea.yml no longer lists for ${environment.name}: an admin takes it off with "magrathea instances:remove ${push.app}@${cluster} --env ${environment.name}"`);
      }
    } finally {
      // Kept on success until post-receive, once the branch has moved.
      if (!deployed) {
        await unclaim?.();
        await releasePushLock(gateway.state, push.app, environment.name, push.token);
      }
    }
  }
}

/** The two hooks of an app repository (push/repos.ts). */
export type HookName = 'pre-receive' | 'post-receive';

/** Where git-receive-pack tells its hooks the pushed objects are, until the push is accepted. */
export const QUARANTINE_ENV = ['GIT_QUARANTINE_PATH', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES'] as const;

/** What git-receive-pack tells its hooks through their environment and that a push needs: the push options and the quarantine. */
const HOOK_ENV = new RegExp(`^(GIT_PUSH_OPTION_COUNT|GIT_PUSH_OPTION_\\d+|${QUARANTINE_ENV.join('|')})$`);

/**
 * The push a hook runs for: the repository and pusher the gateway knows,
 * the git-receive-pack both hooks are children of, and from the hook's
 * environment (HOOK_ENV only) the push options and the quarantine.
 */
export function hookPush(fields: { app: string; gitDir: string; pusher: string; receivePackPid: number; env: Readonly<Record<string, string | undefined>>; say(line: string): void; signal?: AbortSignal }): Push {
  const { env } = fields;
  const count = Math.min(Number(env.GIT_PUSH_OPTION_COUNT ?? 0) || 0, 100);
  const gitEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => HOOK_ENV.test(e[0]) && e[1] !== undefined));
  return {
    app: fields.app,
    gitDir: fields.gitDir,
    token: pushToken(fields.receivePackPid),
    pusher: fields.pusher,
    options: Array.from({ length: count }, (_, i) => env[`GIT_PUSH_OPTION_${i}`] ?? ''),
    gitEnv,
    say: fields.say,
    ...(fields.signal ? { signal: fields.signal } : {}),
  };
}

/**
 * Runs a hook: its exit code, and everything it has to say through
 * push.say (the pusher's `remote:` lines). pre-receive reads the updated
 * refs from `input` (`OLD NEW REF` lines); a non-zero exit rejects the
 * push, and no branch moves.
 */
export async function runHook(gateway: GatewayContext, hook: HookName, push: Push, input: string): Promise<number> {
  if (hook === 'post-receive') {
    await postReceive(gateway, push);
    return 0;
  }
  try {
    const updates = input.split('\n').filter(Boolean).map((l) => l.split(' '));
    await preReceive(gateway, push, updates);
    return 0;
  } catch (e) {
    const message = e instanceof Rejection ? e.message : `magrathea: ${e instanceof MagratheaError ? e.message : ((e as Error).stack ?? String(e))}`;
    push.say(`${message}\npush rejected: nothing changed`);
    return 1;
  }
}

/** post-receive: the branches have moved; the push locks this push held are freed. */
export async function postReceive(gateway: GatewayContext, push: Pick<Push, 'app' | 'token'>): Promise<void> {
  for (const env of await heldPushLocks(gateway.state, push.app, push.token)) await releasePushLock(gateway.state, push.app, env, push.token);
}

/**
 * Why a ref may not be stored: only branches and tags, named as branches
 * must be (checkBranch: git itself lets `;`, `$`, quotes and any Unicode
 * through), since their names reach messages, jobs and `deploy APP REF`.
 * Deleting a tag stays possible whatever its name.
 */
function refProblem(ref: string, deleting: boolean): string | undefined {
  if (ref.startsWith('refs/heads/')) {
    const problem = checkBranch(ref.slice('refs/heads/'.length));
    return problem && `${ref}: ${problem}: refused`;
  }
  if (ref.startsWith('refs/tags/')) {
    const problem = deleting ? undefined : checkTag(ref.slice('refs/tags/'.length));
    return problem && `${ref}: ${problem}: refused`;
  }
  return `${ref}: only branches (refs/heads/) and tags (refs/tags/) are accepted`;
}
