import { startAccountingWorker, type AccountingWorker } from '../accounting/queue.js';
import { sshMasters } from '../adapters/ssh-masters.js';
import { createKeys, type Keys } from '../state/keys.js';
import { openRedis, type RedisContext, type RedisHandle } from '../state/redis.js';
import { configDir, loadGatewayConfig } from '../config/load.js';
import type { GatewayConfig } from '../core/config/types.js';
import type { DeployResult } from '../deployer/job-types.js';
import { startBackupWorker, type BackupWorker } from '../deployer/backup-job.js';
import { createDeployProcessor } from '../deployer/process-job.js';
import { openDeployQueue, type DeployQueue } from '../deployer/queue.js';
import type { FollowDeployOptions } from '../deployer/follow.js';
import { startDeployWorker, type DeployWorker, type StartDeployWorkerOptions } from '../deployer/worker.js';

/** What the gateway's commands share: the configuration, Redis (private or REDIS_URL), key names and the deploy queue. */
export interface GatewayContext {
  config: GatewayConfig;
  redis: RedisHandle;
  keys: Keys;
  /** Redis and the key names together, as the state modules take them. */
  state: RedisContext;
  queue: DeployQueue;
  close(): Promise<void>;
}

export async function openGatewayContext(configFlag?: string): Promise<GatewayContext> {
  const config = await loadGatewayConfig(configDir(configFlag));
  const redis = await openRedis({ stateDir: config.gateway.stateDir });
  const keys = createKeys(process.env.MAGRATHEA_REDIS_PREFIX || undefined);
  try {
    const queue = await openDeployQueue({ redis, keys });
    return {
      config,
      redis,
      keys,
      state: { redis: redis.client, keys },
      queue,
      async close() {
        await queue.close();
        await redis.stop();
      },
    };
  } catch (e) {
    await redis.stop();
    throw e;
  }
}

/** Runs `action` with the gateway's context open, and closes it after, whatever happens. */
export async function withGatewayContext<T>(configFlag: string | undefined, action: (gateway: GatewayContext) => Promise<T>): Promise<T> {
  const gateway = await openGatewayContext(configFlag);
  try {
    return await action(gateway);
  } finally {
    await gateway.close();
  }
}

/** A deploy worker on the gateway's queue, running the real processor (the configuration is read again at each job). */
export async function startGatewayWorker(gateway: GatewayContext, configFlag: string | undefined, options: Omit<StartDeployWorkerOptions, 'redis' | 'keys' | 'processor'> = {}): Promise<DeployWorker> {
  const worker = await startDeployWorker({
    ...options,
    redis: gateway.redis,
    keys: gateway.keys,
    processor: createDeployProcessor({ loadConfig: () => loadGatewayConfig(configDir(configFlag)), redis: { redis: gateway.redis.client, keys: gateway.keys } }),
  });
  // The SSH masters its deploys kept up for the next ones (gateway.yml ssh.master_idle) stop with it, by pid.
  return { ...worker, close: (o) => worker.close(o).finally(() => sshMasters.close()) };
}

/**
 * The accounting schedule and a worker for its jobs, on the gateway's
 * Redis. Several processes may call this: there is one schedule, and two
 * runs at once still count every line once.
 */
export function startGatewayAccounting(gateway: GatewayContext, configFlag: string | undefined, options: { chunkBytes?: number; log?: (line: string) => void; summary?: (line: string) => void } = {}): Promise<AccountingWorker> {
  return startAccountingWorker({
    ...options,
    redis: gateway.redis,
    keys: gateway.keys,
    loadConfig: () => loadGatewayConfig(configDir(configFlag)),
  });
}

/** The database backup schedule (backups.schedule) and a worker for its jobs, on the gateway's Redis; nothing runs without a schedule. */
export function startGatewayBackups(gateway: GatewayContext, configFlag: string | undefined, options: { summary?: (line: string) => void } = {}): Promise<BackupWorker> {
  return startBackupWorker({ ...options, redis: gateway.redis, keys: gateway.keys, loadConfig: () => loadGatewayConfig(configDir(configFlag)) });
}

/**
 * Follows a queued job to its end. With no worker connected to the queue,
 * this process runs one for the time of the job, so that `magrathea deploy`
 * works on a machine where no `magrathea worker` runs.
 */
export async function followWithWorker(gateway: GatewayContext, jobId: string, configFlag: string | undefined, onLine: (line: string) => void, options: FollowDeployOptions = {}): Promise<DeployResult> {
  const workers = await gateway.queue.queue.getWorkers();
  const local = workers.length === 0 ? await startGatewayWorker(gateway, configFlag, { concurrency: 1 }) : undefined;
  if (local) onLine('no worker is running ("magrathea worker"): running it in this process');
  try {
    return await gateway.queue.followDeploy(jobId, onLine, options);
  } finally {
    await local?.close();
  }
}
