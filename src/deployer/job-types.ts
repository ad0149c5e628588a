import type { EventMeta } from '../core/deploy-event.js';
import { MagratheaError } from '../core/errors.js';

/** What a deploy job carries from the push (or `magrathea deploy`) to a worker. JSON only. */
export interface DeployJobData {
  app: string;
  env: string;
  /** The commit to deploy, full hex sha. */
  commit: string;
  /** The ref that was pushed or asked for (`refs/heads/master`). */
  ref: string;
  /** Only these clusters of the environment; default all of them, in the environment's order. */
  clusters?: string[];
  /** Who asked: the SSH key's user, the CLI's user. */
  requestedBy: string;
  /** Where the gateway exported the tree of `commit`: a worker on the gateway's machine reads it there. */
  sourcePath: string;
  /** Where a worker on another machine fetches that tree (the gateway's HTTP API), and the key it sends. */
  sourceUrl?: string;
  sourceKey?: string;
  /** A rollback: switch back to this earlier release (still on the hosts), with the configuration it went live with; nothing is built. */
  rollbackTo?: string;
  /** With rollbackTo: every config file of the cluster shipped, checked and reloaded, changed or not (`doctor --fix`: the hosts may not hold what the gateway recorded). */
  reapply?: boolean;
}

/** What a deploy returns to whoever follows it. JSON only. */
export interface DeployResult {
  /** One line for humans: what is live where. */
  summary: string;
  /** The release that went live, when one did (`r42`). */
  release?: string;
  [key: string]: unknown;
}

/** One run of a deploy job, as a processor sees it. */
export interface DeployJob {
  id: string;
  data: DeployJobData;
  /** 1 for the first run; a run restarted after its worker died keeps its number. */
  attempt: number;
  /** Appends a progress event (its line, and where the deploy is), streamed live to followers; its line is kept in the job's log. */
  log(line: string, meta?: EventMeta): Promise<void>;
  /** Reports structured progress (JSON) to followers and BullMQ. */
  progress(p: unknown): Promise<void>;
  /** Aborted when this run lost its app+env deploy lock (another run may take over): stop at the next step. */
  signal: AbortSignal;
}

/**
 * Runs one deploy. Must be idempotent: a run cut short (worker killed) is run
 * again from the start. Throw an error with `retryable === false` (any
 * MagratheaError built so) for what a retry cannot fix: it fails the job at
 * once and its message reaches the follower.
 */
export type DeployProcessor = (job: DeployJob) => Promise<DeployResult>;

/** A deploy that failed, as its follower learns it: the processor's message, code and exit status. */
export class DeployFailedError extends MagratheaError {
  constructor(message: string, code = 'deploy-failed', exitStatus = 1) {
    super(message, code, exitStatus, false);
    this.name = 'DeployFailedError';
  }
}
