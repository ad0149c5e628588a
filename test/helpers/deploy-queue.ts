import type { Keys } from '../../src/state/keys.js';
import type { RedisHandle } from '../../src/state/redis.js';
import type { DeployJobData, DeployProcessor } from '../../src/deployer/job-types.js';
import { openDeployQueue, type DeployQueue, type OpenDeployQueueOptions } from '../../src/deployer/queue.js';
import { startDeployWorker, type DeployWorker, type StartDeployWorkerOptions } from '../../src/deployer/worker.js';

/** BullMQ's and the app lock's timings, short so that a dead worker's job comes back in about a second. */
export const FAST = { lockDurationMs: 1_000, stalledIntervalMs: 500, appLockMs: 1_000, waitPollMs: 50 } as const;

/** Everything a test opened, closed in afterEach/afterAll whatever happened. */
export class Opened {
  private readonly closers: (() => Promise<void>)[] = [];

  async queue(redis: RedisHandle, keys: Keys, options: Partial<OpenDeployQueueOptions> = {}): Promise<DeployQueue> {
    const queue = await openDeployQueue({ redis, keys, backoffMs: 10, ...options });
    this.closers.push(() => queue.close());
    return queue;
  }

  async worker(redis: RedisHandle, keys: Keys, processor: DeployProcessor, options: Partial<StartDeployWorkerOptions> = {}): Promise<DeployWorker> {
    const worker = await startDeployWorker({ redis, keys, processor, ...FAST, ...options });
    // Forced: a processor left hanging by a failed test must not hang the teardown.
    this.closers.push(() => worker.close({ force: true }));
    return worker;
  }

  add(close: () => Promise<void>): void {
    this.closers.push(close);
  }

  async closeAll(): Promise<void> {
    const errors: unknown[] = [];
    for (const close of this.closers.splice(0).reverse()) await close().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw errors[0];
  }
}

export function deployData(app: string, env = 'production', n = 1): DeployJobData {
  return { app, env, commit: n.toString(16).padStart(40, '0'), ref: 'refs/heads/master', requestedBy: 'test', sourcePath: `/tmp/src/${app}/${n}` };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A gate the test opens when it chooses: a processor that awaits `wait` holds its job until `open()`. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { wait, open };
}
