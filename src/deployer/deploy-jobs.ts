import type { Job, Queue } from 'bullmq';
import type { DeployJobData, DeployResult } from './job-types.js';

/**
 * BullMQ's states of a job that has not ended: waiting its turn, or running
 * (`active`). Read in this order, the order a job moves through them: one
 * that moves between two reads is seen twice rather than missed.
 */
export const PENDING_STATES = ['waiting-children', 'prioritized', 'delayed', 'waiting', 'active'] as const;
export type PendingState = (typeof PENDING_STATES)[number];

/** BullMQ's ids of the deploy queue: its counter, nothing else (no custom ids are given). */
export const JOB_ID = /^[1-9][0-9]{0,15}$/;

/** One deploy job as `deploys APP` lists it. */
export interface DeployJobSummary {
  /** BullMQ's job id: what `deploys:follow APP JOB` takes. */
  id: string;
  app: string;
  env: string;
  /** `rollback` puts an earlier release back; `reapply` is doctor --fix shipping a release's files again. */
  kind: 'deploy' | 'rollback' | 'reapply';
  /** The ref pushed or asked for (`refs/heads/master`), and its commit. */
  ref: string;
  commit: string;
  /** The release a rollback (or reapply) goes to; a deploy's release gets its id once it runs (its events carry it). */
  release?: string;
  /** Only these clusters; absent: every cluster of the environment. */
  clusters?: string[];
  requestedBy: string;
  /** `active`: running on a worker; the others wait (behind the app's earlier deploys, or a retry's delay). */
  state: PendingState | string;
  /** When it was queued, and when a worker last took it (ISO 8601). */
  since: string;
  startedAt?: string;
  /** Runs so far that failed and were retried. */
  attemptsMade: number;
}

/** A job's summary from what BullMQ keeps of it. */
export function summarizeDeployJob(job: Pick<Job<DeployJobData>, 'id' | 'data' | 'timestamp' | 'processedOn' | 'attemptsMade'>, state: string): DeployJobSummary {
  const { data } = job;
  return {
    id: job.id!,
    app: data.app,
    env: data.env,
    kind: data.rollbackTo === undefined ? 'deploy' : data.reapply ? 'reapply' : 'rollback',
    ref: data.ref,
    commit: data.commit,
    ...(data.rollbackTo === undefined ? {} : { release: data.rollbackTo }),
    ...(data.clusters && data.clusters.length > 0 ? { clusters: [...data.clusters] } : {}),
    requestedBy: data.requestedBy,
    state,
    since: new Date(job.timestamp).toISOString(),
    ...(job.processedOn ? { startedAt: new Date(job.processedOn).toISOString() } : {}),
    attemptsMade: job.attemptsMade,
  };
}

/** The app's deploy and rollback jobs that have not ended (of one environment, or all), oldest first. */
export async function listPendingDeploys(queue: Queue<DeployJobData, DeployResult>, app: string, env?: string): Promise<DeployJobSummary[]> {
  const out: DeployJobSummary[] = [];
  for (const state of PENDING_STATES) {
    for (const job of await queue.getJobs([state])) {
      if (!job || job.data.app !== app || (env !== undefined && job.data.env !== env)) continue;
      out.push(summarizeDeployJob(job, state));
    }
  }
  // A job that moved between two reads (waiting, then active) is listed once, in its later state.
  const byId = new Map(out.map((j) => [j.id, j]));
  return [...byId.values()].sort((a, b) => a.since.localeCompare(b.since) || Number(a.id) - Number(b.id));
}

/** The job `id` if it is one of `app`'s deploys (ended or not); undefined for no such job, or another app's: the same answer, so that nothing is learned of other apps. */
export async function findAppDeploy(queue: Queue<DeployJobData, DeployResult>, app: string, id: string): Promise<Job<DeployJobData, DeployResult> | undefined> {
  const job = await queue.getJob(id);
  return job && job.data.app === app ? job : undefined;
}
