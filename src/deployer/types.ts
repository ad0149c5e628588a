import type { PanelIdStore } from '../state/panel-ids.js';
import type { InstanceConfig } from '../core/manifest/types.js';
import type { InstanceKey } from '../core/render/names.js';

/** What the deployer reads and records; kept in Redis (src/state) by the worker. */
export interface DeployState {
  /** The release each host of the cluster serves for this app and environment, as recorded by the last switch. */
  hostReleases(app: string, env: string, cluster: string): Promise<Record<string, string>>;
  /** Every host of the cluster now serves `release`: recorded in one step. */
  recordSwitch(app: string, env: string, cluster: string, release: string, hosts: string[]): Promise<void>;
  /** The instances live on a cluster (every app and environment): the edge files are rendered from all of them. */
  clusterInstances(cluster: string): Promise<InstanceConfig[]>;
  /** The instance is live with `release`: it joins its cluster's instances, and is what a rollback to `release` re-applies. */
  saveInstance(instance: InstanceConfig, release: string): Promise<void>;
  /**
   * Runs `action` holding the cluster: its edge files are rendered from every
   * instance on it, so two deploys of different apps must not render and
   * install them at the same time (the second would drop the first's domains).
   * `owner` names the deploy (its job): a run of the same deploy restarted
   * after its worker died takes its own lock back at once.
   */
  withClusterLock<T>(cluster: string, owner: string, onWait: () => void, action: () => Promise<T>): Promise<T>;
  /** The configuration `release` went live with on `cluster`, if it ever did. */
  releaseInstance(app: string, env: string, release: string, cluster: string): Promise<InstanceConfig | undefined>;
  /**
   * The instance is gone from the cluster's hosts (`apps:destroy`): it leaves
   * the cluster's instances, and no host of the cluster is recorded as serving
   * it, in one step. What its releases went live with stays, for the app's
   * own removal.
   */
  forgetInstance(app: string, env: string, cluster: string): Promise<void>;
  /** `<app>.<env>` → each instance's password on the cluster's session store, made for those that have none yet. */
  sessionPasswords(cluster: string, instances: readonly InstanceKey[]): Promise<Record<string, string>>;
  /** Where the ids of the cluster's panel's databases are kept (clusters with an `ispconfig:` panel). */
  panelDatabaseIds?(cluster: string): PanelIdStore;
  /** `<app>.<env>` → each instance's password on the cluster's db host, made for those that have none yet (db:rotate replaces one). */
  databasePasswords(cluster: string, instances: readonly InstanceKey[]): Promise<Record<string, string>>;
  /** The same, as the cluster's hosts have them: after a db:rotate, the password before it until the instance's own deploy applies the new one. */
  appliedDatabasePasswords(cluster: string, instances: readonly InstanceKey[]): Promise<Record<string, string>>;
  /** The instance's deploy set its current database password on the cluster (see appliedDatabasePasswords). */
  databasePasswordApplied(cluster: string, instance: InstanceKey): Promise<void>;
}

export type Step = 'connect' | 'database' | 'prepare' | 'check' | 'hook' | 'activate' | 'verify' | 'rollback' | 'cleanup' | 'purge';

export interface ClusterOutcome {
  cluster: string;
  /** live: switched and verified; failed: nothing switched; rolled-back: switched, failed verification, put back; skipped: not attempted. */
  status: 'live' | 'failed' | 'rolled-back' | 'skipped';
  release: string;
  /** The release the cluster serves now. */
  serving?: string;
  hosts: number;
  url: string;
  seconds: number;
  /** One line a human can act on: host, step, cause. */
  error?: string;
  /** Files rsync sent to each host (the rest was hard-linked from the previous release). */
  transferred?: Record<string, number>;
}

/** What one deploy did on each cluster (the job's DeployResult carries it, with a summary line, to whoever follows). */
export interface DeployOutcome {
  app: string;
  env: string;
  release: string;
  ok: boolean;
  clusters: ClusterOutcome[];
}
