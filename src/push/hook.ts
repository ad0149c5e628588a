#!/usr/bin/env node
/**
 * The git hooks of every app repository (see repos.ts), run by
 * git-receive-pack during a push: `hook.js pre-receive | post-receive`.
 * Everything they print reaches the pusher as `remote:` lines; a non-zero
 * exit of pre-receive rejects the push and no branch moves.
 */
import { rm } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { createKeys } from '../state/keys.js';
import { run } from '../adapters/exec.js';
import { openRedis, type RedisHandle } from '../state/redis.js';
import { checkoutDir, exportTree, sourceDir } from '../builder/build-release.js';
import { sourceFields } from '../builder/source-link.js';
import { loadGatewayConfig } from '../config/load.js';
import type { GatewayConfig } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';
import { checkAllInstances, environmentForBranch } from '../core/manifest/resolve.js';
import { MANIFEST_FILE, validateManifest } from '../core/manifest/validate.js';
import { formatProblem } from '../core/source.js';
import { checkBranch, checkName, checkTag } from '../core/values.js';
import { openDeployQueue } from '../deployer/queue.js';
import { quotaWarnings } from '../accounting/read-usage.js';
import { readManifestBlob } from './manifest-blob.js';
import { acquirePushLock, heldPushLocks, releasePushLock } from '../state/push-lock.js';

const ZERO = /^0+$/;

/** Rejects the push with lines for the pusher (exit 1). */
class Rejection extends Error {}

interface PushContext {
  config: GatewayConfig;
  redis: RedisHandle;
  app: string;
  gitDir: string;
  token: string;
  say: (line: string) => void;
}

async function preReceive(ctx: PushContext, updates: string[][], options: string[]): Promise<void> {
  const context = { redis: ctx.redis.client, keys: createKeys(process.env.MAGRATHEA_REDIS_PREFIX || undefined) };
  const clusters = options.filter((o) => o.startsWith('cluster=')).map((o) => o.slice('cluster='.length));
  for (const option of options) {
    if (!option.startsWith('cluster=')) throw new Rejection(`unknown push option ${JSON.stringify(option)}; known: cluster=NAME (deploy that cluster only)`);
  }
  // Every name first: a push with one bad ref is rejected before any of its branches deploys.
  for (const [, newRev, ref] of updates as [string, string, string][]) {
    const problem = refProblem(ref, ZERO.test(newRev));
    if (problem) throw new Rejection(problem);
  }
  for (const [oldRev, newRev, ref] of updates as [string, string, string][]) {
    if (ref.startsWith('refs/tags/')) {
      ctx.say(`${ref}: a tag: stored, nothing deployed`);
      continue;
    }
    const branch = ref.slice('refs/heads/'.length);
    if (ZERO.test(newRev)) throw new Rejection(`deleting branches is refused: ${branch} may feed an environment`);

    const text = await readManifestBlob(ctx.gitDir, newRev, branch).catch((e: Error) => {
      throw new Rejection(e.message);
    });
    if (text === undefined) throw new Rejection(`${MANIFEST_FILE}: missing at the root of ${newRev.slice(0, 12)}: every commit Magrathea deploys needs one`);
    const parsed = validateManifest(text, MANIFEST_FILE);
    const problems = 'problems' in parsed ? parsed.problems : checkAllInstances(parsed.manifest, ctx.app);
    if (problems.length > 0 || 'problems' in parsed) throw new Rejection(problems.map(formatProblem).join('\n'));
    const environment = environmentForBranch(parsed.manifest, branch);
    if (!environment) {
      const fed = parsed.manifest.environments.map((e) => `${e.branch} -> ${e.name}`).join(', ');
      ctx.say(`${branch}: feeds no environment (${fed}): pushed, nothing deployed`);
      continue;
    }
    for (const c of clusters) {
      if (!environment.clusters.includes(c)) throw new Rejection(`push option cluster=${c}: environment ${environment.name} deploys to ${environment.clusters.join(', ')}`);
    }

    await acquirePushLock(context, ctx.app, environment.name, ctx.token, () => ctx.say(`waiting: another push of ${ctx.app} (${environment.name}) is deploying`));
    let deployed = false;
    const tree = sourceDir(ctx.config.gateway.stateDir, ctx.app, newRev);
    try {
      // The branch must still be where the pusher saw it: a push that waited behind another sees that one's result.
      const current = (await run('git', ['--git-dir', ctx.gitDir, 'rev-parse', '--verify', '--quiet', ref], { reject: false })).stdout.trim();
      if ((current || '0'.repeat(40)) !== oldRev && !(ZERO.test(oldRev) && !current)) {
        throw new Rejection(`${branch} moved to ${current.slice(0, 12)} while this push waited: pull, then push again`);
      }
      await exportTree(ctx.gitDir, newRev, tree, checkoutDir(ctx.config.gateway.stateDir, ctx.app));
      const queue = await openDeployQueue({ redis: ctx.redis, keys: context.keys });
      try {
        const jobId = await queue.enqueueDeploy({
          app: ctx.app,
          env: environment.name,
          commit: newRev,
          ref,
          requestedBy: process.env.MAGRATHEA_USER || 'unknown',
          sourcePath: tree,
          ...(await sourceFields(ctx.config, tree)),
          ...(clusters.length > 0 ? { clusters } : {}),
        });
        ctx.say(`deploy ${jobId}: ${ctx.app} (${environment.name}) at ${newRev.slice(0, 12)}`);
        const result = await queue.followDeploy(jobId, (line) => ctx.say(line)).catch((e: Error) => {
          throw new Rejection(e.message);
        });
        ctx.say(result.summary.trimEnd());
        deployed = true;
        for (const warning of await quotaWarnings(context, ctx.config, ctx.app).catch(() => [] as string[])) ctx.say(`warning: ${warning}`);
      } finally {
        await queue.close();
      }
    } finally {
      await rm(tree, { recursive: true, force: true });
      // Kept on success until post-receive, once the branch has moved.
      if (!deployed) await releasePushLock(context, ctx.app, environment.name, ctx.token);
    }
  }
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

async function postReceive(ctx: PushContext): Promise<void> {
  const context = { redis: ctx.redis.client, keys: createKeys(process.env.MAGRATHEA_REDIS_PREFIX || undefined) };
  for (const env of await heldPushLocks(context, ctx.app, ctx.token)) await releasePushLock(context, ctx.app, env, ctx.token);
}

async function main(hook: string | undefined): Promise<number> {
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  const gitDir = resolve(process.env.GIT_DIR ?? '.');
  const app = basename(gitDir, '.git');
  if (checkName(app) !== undefined || (hook !== 'pre-receive' && hook !== 'post-receive')) {
    say(`magrathea hook: usage: hook.js pre-receive|post-receive, run by git in an app repository`);
    return 2;
  }
  let redis: RedisHandle | undefined;
  try {
    const config = await loadGatewayConfig(process.env.MAGRATHEA_CONFIG ?? 'config');
    redis = await openRedis({ stateDir: config.gateway.stateDir });
    // Both hooks are children of the same git-receive-pack: its PID ties the pre-receive's lock to the post-receive.
    const ctx: PushContext = { config, redis, app, gitDir, token: `push-${process.ppid}`, say };
    if (hook === 'post-receive') {
      await postReceive(ctx);
      return 0;
    }
    const input = await readStdin();
    const updates = input.split('\n').filter(Boolean).map((l) => l.split(' '));
    const count = Number(process.env.GIT_PUSH_OPTION_COUNT ?? 0);
    const options = Array.from({ length: count }, (_, i) => process.env[`GIT_PUSH_OPTION_${i}`] ?? '');
    await preReceive(ctx, updates, options);
    return 0;
  } catch (e) {
    if (e instanceof Rejection) {
      for (const line of e.message.split('\n')) say(line);
      say('push rejected: nothing changed');
      return 1;
    }
    say(`magrathea: ${e instanceof MagratheaError ? e.message : ((e as Error).stack ?? String(e))}`);
    say('push rejected: nothing changed');
    return 1;
  } finally {
    await redis?.stop();
  }
}

function readStdin(): Promise<string> {
  return new Promise((resolveInput, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => (data += chunk));
    process.stdin.on('end', () => resolveInput(data));
    process.stdin.on('error', reject);
  });
}

main(process.argv[2]).then(
  (status) => {
    process.exitCode = status;
  },
  (e) => {
    process.stderr.write(`magrathea hook: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
