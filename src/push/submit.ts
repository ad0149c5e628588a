import { rm } from 'node:fs/promises';
import { checkoutDir, exportTree, sourceDir } from '../builder/build-release.js';
import { sourceFields } from '../builder/source-link.js';
import type { DeployResult } from '../deployer/job-types.js';
import type { DeployEvent } from '../core/deploy-event.js';
import { followWithWorker, type GatewayContext } from '../dispatch/context.js';

export interface DeployRequest {
  app: string;
  env: string;
  /** The full sha of the commit to deploy, and the ref it was pushed or asked as. */
  commit: string;
  ref: string;
  /** The repository that holds the commit (the app's on the gateway, or any at the command line). */
  gitDir: string;
  requestedBy: string;
  /** Only these clusters of the environment. */
  clusters?: string[];
  /** Added to git's environment: a pre-receive hook's quarantine, where the pushed commit's objects are until the push is accepted. */
  gitEnv?: Readonly<Record<string, string>>;
}

export interface SubmitOptions {
  /** Each progress line of the deploy, as it comes. */
  say(line: string): void;
  /** Each event of the deploy instead of its line (the HTTP API's structured stream). */
  onEvent?: (event: DeployEvent) => void;
  /** With no worker connected to the queue, run one in this process for the time of the job (a command; a push waits for the gateway's). */
  configDir?: string;
  /** Stops following (a push whose gateway stops): a deploy still waiting for a worker is taken off the queue, since its source goes with this call. */
  signal?: AbortSignal;
}

/**
 * How a deploy starts, from a push or a command: the commit's tree exported
 * from git's objects (never a checkout of the pusher's links), the job
 * queued with where a worker finds that tree, followed to its end; the
 * export is removed whatever happens. Resolves to the deploy's result; a
 * failed deploy rejects with its message.
 */
export async function submitDeploy(gateway: GatewayContext, request: DeployRequest, options: SubmitOptions): Promise<DeployResult> {
  const stateDir = gateway.config.gateway.stateDir;
  const tree = sourceDir(stateDir, request.app, request.commit);
  try {
    await exportTree(request.gitDir, request.commit, tree, checkoutDir(stateDir, request.app), request.gitEnv);
    const jobId = await gateway.queue.enqueueDeploy({
      app: request.app,
      env: request.env,
      commit: request.commit,
      ref: request.ref,
      requestedBy: request.requestedBy,
      sourcePath: tree,
      ...(await sourceFields(gateway.config, tree)),
      ...(request.clusters && request.clusters.length > 0 ? { clusters: request.clusters } : {}),
    });
    options.say(`deploy ${jobId}: ${request.app} (${request.env}) at ${request.commit.slice(0, 12)}`);
    const follow = { ...(options.onEvent ? { onEvent: options.onEvent } : {}), ...(options.signal ? { signal: options.signal } : {}) };
    try {
      return options.configDir === undefined ? await gateway.queue.followDeploy(jobId, options.say, follow) : await followWithWorker(gateway, jobId, options.configDir, options.say, follow);
    } catch (e) {
      // A job a worker already holds cannot be removed (it runs on, and fails without its source).
      if (options.signal?.aborted) await (await gateway.queue.queue.getJob(jobId))?.remove().catch(() => undefined);
      throw e;
    }
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}
