import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { MagratheaError } from '../../src/core/errors.js';
import { destroyAppState, registerDeploy } from '../../src/state/app-lock.js';
import { DeployFailedError, type DeployJob } from '../../src/deployer/job-types.js';
import { freshKeys, listKeys, startTestRedis, type TestRedis } from '../helpers/redis.js';
import { deployData, gate, Opened, sleep } from '../helpers/deploy-queue.js';
import { waitFor } from '../helpers/wait.js';

let redis: TestRedis;
const opened = new Opened();

beforeAll(async () => {
  redis = await startTestRedis();
});

afterEach(async () => {
  await opened.closeAll();
});

afterAll(async () => {
  await opened.closeAll();
  await redis?.stop();
});

interface Run {
  id: string;
  group: string;
  start: number;
  end: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('deploy queue', () => {
  test('one deploy at a time per app+env, in arrival order, while other apps and envs run in parallel', async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys);
    const runs: Run[] = [];
    let running = 0;
    let maxRunning = 0;
    const processor = async (job: DeployJob) => {
      const run = { id: job.id, group: `${job.data.app}/${job.data.env}`, start: Date.now(), end: 0 };
      maxRunning = Math.max(maxRunning, ++running);
      await sleep(60 + Math.floor(Math.random() * 40));
      running--;
      run.end = Date.now();
      runs.push(run);
      return { summary: `done ${job.id}` };
    };
    // Two workers of three slots each: more slots than groups, so only the lock can serialise a group.
    await opened.worker(redis.handle, keys, processor, { concurrency: 3 });
    await opened.worker(redis.handle, keys, processor, { concurrency: 3 });

    const order = [['shop', 'production'], ['blog', 'production'], ['shop', 'production'], ['shop', 'production'], ['blog', 'production'],
      ['shop', 'staging'], ['shop', 'production'], ['blog', 'production'], ['shop', 'production'], ['shop', 'staging'], ['blog', 'production'], ['shop', 'production'], ['shop', 'production']] as const;
    const ids: string[] = [];
    for (const [i, [app, env]] of order.entries()) ids.push(await queue.enqueueDeploy(deployData(app, env, i + 1)));
    await Promise.all(ids.map((id) => queue.followDeploy(id, () => {})));

    const handoffs: number[] = [];
    for (const group of ['shop/production', 'blog/production', 'shop/staging']) {
      const expected = ids.filter((_, i) => `${order[i]![0]}/${order[i]![1]}` === group);
      const started = runs.filter((r) => r.group === group).sort((a, b) => a.start - b.start);
      expect(started.map((r) => r.id)).toEqual(expected);
      for (let i = 1; i < started.length; i++) {
        expect(started[i]!.start).toBeGreaterThanOrEqual(started[i - 1]!.end);
        handoffs.push(started[i]!.start - started[i - 1]!.end);
      }
    }
    // All three groups ran at once at some point.
    expect(maxRunning).toBe(3);
    process.stderr.write(`deploy queue: handoff to the next deploy of an app+env, median ${median(handoffs)} ms, max ${Math.max(...handoffs)} ms (${handoffs.length} handoffs)\n`);
    // Each deploy left its place in the order and freed its lock (just after its follower got the result).
    const leftovers = async () => (await listKeys(redis.handle, keys)).filter((k) => /:deploy-(lock|order):/.test(k));
    for (let i = 0; i < 50 && (await leftovers()).length > 0; i++) await sleep(20);
    expect(await leftovers()).toEqual([]);
  });

  test('a failure with retryable === false is not retried and its message reaches the follower', async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys, { attempts: 3 });
    const calls: string[] = [];
    await opened.worker(redis.handle, keys, async (job) => {
      calls.push(job.data.commit);
      if (calls.length === 1) throw new MagratheaError('cluster-a web-2 prepare: apache2 -t exited with 1: Syntax error on line 3', 'step-failed', 1, false);
      return { summary: 'second deploy ok' };
    });
    const failing = await queue.enqueueDeploy(deployData('shop', 'production', 1));
    const next = await queue.enqueueDeploy(deployData('shop', 'production', 2));
    const lines: string[] = [];
    const error = await queue.followDeploy(failing, (l) => lines.push(l)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeployFailedError);
    expect(error).toMatchObject({ message: 'cluster-a web-2 prepare: apache2 -t exited with 1: Syntax error on line 3', code: 'step-failed', exitStatus: 1 });
    // BullMQ records the failure just after the follower heard of it.
    await waitFor('the job to fail', async () => ((await queue.queue.getJobState(failing)) === 'failed' ? true : undefined), 5_000);
    const job = await queue.queue.getJob(failing);
    expect(job!.failedReason).toBe('cluster-a web-2 prepare: apache2 -t exited with 1: Syntax error on line 3');
    // The failed deploy freed its app: the next one runs.
    expect(await queue.followDeploy(next, () => {})).toEqual({ summary: 'second deploy ok' });
    // One run of the failing deploy, then the next deploy.
    expect(calls).toEqual([deployData('shop', 'production', 1).commit, deployData('shop', 'production', 2).commit]);
  });

  test('a retryable failure is retried, and its follower hears about the retry then gets the result', async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys, { attempts: 3 });
    const attempts: number[] = [];
    await opened.worker(redis.handle, keys, async (job) => {
      attempts.push(job.attempt);
      if (job.attempt === 1) throw new Error('read ECONNRESET');
      return { summary: 'ok', release: 'r7' };
    });
    const id = await queue.enqueueDeploy(deployData('shop'));
    const lines: string[] = [];
    expect(await queue.followDeploy(id, (l) => lines.push(l))).toEqual({ summary: 'ok', release: 'r7' });
    expect(attempts).toEqual([1, 2]);
    expect(lines).toContain('attempt 1 failed, will retry: read ECONNRESET');
  });

  test('when the retries run out, the last failure reaches the follower', async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys, { attempts: 2 });
    let calls = 0;
    await opened.worker(redis.handle, keys, async () => {
      calls++;
      throw new Error(`connect ETIMEDOUT (try ${calls})`);
    });
    const id = await queue.enqueueDeploy(deployData('shop'));
    await expect(queue.followDeploy(id, () => {})).rejects.toThrow('connect ETIMEDOUT (try 2)');
    expect(calls).toBe(2);
  });

  test('followers get progress lines live, in order, and a late follower gets them all from the start', async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys);
    const held = gate();
    await opened.worker(redis.handle, keys, async (job) => {
      await job.log('build: composer install');
      await job.progress({ step: 'build', done: 1, of: 3 });
      await held.wait;
      await job.log('prepare: cluster-a web-1, web-2');
      await job.log('activate: cluster-a');
      return { summary: 'live on cluster-a', release: 'r1' };
    });
    const id = await queue.enqueueDeploy(deployData('shop'));
    const live: string[] = [];
    const progress: unknown[] = [];
    const following = queue.followDeploy(id, (l) => {
      live.push(l);
      if (l === 'build: composer install') held.open();
    }, { onProgress: (p) => progress.push(p) });
    expect(await following).toEqual({ summary: 'live on cluster-a', release: 'r1' });
    expect(live.slice(1)).toEqual(['build: composer install', 'prepare: cluster-a web-1, web-2', 'activate: cluster-a']);
    expect(live[0]).toMatch(new RegExp(`^deploy ${id} of shop \\(production\\) started on .+:${process.pid}, attempt 1$`));
    expect(progress).toEqual([{ step: 'build', done: 1, of: 3 }]);

    const late: string[] = [];
    expect(await queue.followDeploy(id, (l) => late.push(l))).toEqual({ summary: 'live on cluster-a', release: 'r1' });
    expect(late).toEqual(live);
    // BullMQ's job log has the processor's lines too.
    expect((await queue.queue.getJobLogs(id)).logs).toEqual(live.slice(1));
  });

  test("a run that loses its app lock is told through its signal", async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys);
    await opened.worker(redis.handle, keys, async (job) => {
      // As if this worker had been frozen past the lock's expiry and another run had taken over.
      await redis.handle.client.set(keys.deployLock('shop', 'production'), 'other-run token');
      const reason = await new Promise<unknown>((resolve) => job.signal.addEventListener('abort', () => resolve(job.signal.reason)));
      throw new MagratheaError(`stopped: ${(reason as Error).message}`, 'aborted', 1, false);
    }, { appLockMs: 300 });
    const id = await queue.enqueueDeploy(deployData('shop'));
    await expect(queue.followDeploy(id, () => {})).rejects.toThrow(`stopped: deploy ${id} lost its lock on shop (production)`);
    // It did not free the lock it no longer held.
    expect(await redis.handle.client.get(keys.deployLock('shop', 'production'))).toBe('other-run token');
  });

  test('enqueue to start takes milliseconds on an idle worker', async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys);
    const started = new Map<string, number>();
    await opened.worker(redis.handle, keys, async (job) => {
      started.set(job.data.commit, Date.now());
      return { summary: 'ok' };
    });
    const latencies: number[] = [];
    for (let i = 1; i <= 20; i++) {
      const data = deployData(`app-${i}`, 'production', i);
      const t0 = Date.now();
      await queue.followDeploy(await queue.enqueueDeploy(data), () => {});
      latencies.push(started.get(data.commit)! - t0);
    }
    process.stderr.write(`deploy queue: enqueue to processor start, median ${median(latencies)} ms, max ${Math.max(...latencies)} ms (20 deploys)\n`);
    expect(median(latencies)).toBeLessThan(100);
  });

  test('a head of the order whose job vanished does not block its app+env', async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys);
    await registerDeploy(redis.handle.client, keys, { app: 'shop', env: 'production' }, 'no-such-job');
    await opened.worker(redis.handle, keys, async () => ({ summary: 'ok' }));
    const id = await queue.enqueueDeploy(deployData('shop'));
    const lines: string[] = [];
    expect(await queue.followDeploy(id, (l) => lines.push(l))).toEqual({ summary: 'ok' });
    expect(lines[0]).toBe('waiting for deploy no-such-job of shop (production) to end');
  });

  test('invalid deploys are refused before anything is queued; an unknown job cannot be followed', async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys);
    await expect(queue.enqueueDeploy({ ...deployData('shop'), app: 'Shop*', sourcePath: 'relative/dir' })).rejects.toThrow(
      /^invalid deploy: app: "Shop\*" is not a valid name.*; sourcePath: "relative\/dir" is not an absolute path$/,
    );
    // reapply (doctor --fix) only as true, and only for a rollback to a release.
    await expect(queue.enqueueDeploy({ ...deployData('shop'), reapply: true })).rejects.toThrow(/^invalid deploy: reapply: only true, and only with rollbackTo$/);
    await expect(queue.enqueueDeploy({ ...deployData('shop'), rollbackTo: 'r2', reapply: 'yes' as unknown as true })).rejects.toThrow(/reapply: only true/);
    expect(await queue.queue.count()).toBe(0);
    await expect(queue.followDeploy('12345', () => {}, { pollMs: 50 })).rejects.toThrow('no deploy job 12345');
  });

  test("destroyAppState removes the app's deploy locks and orders, and only that app's", async () => {
    const keys = freshKeys();
    await registerDeploy(redis.handle.client, keys, { app: 'shop', env: 'production' }, '1');
    await registerDeploy(redis.handle.client, keys, { app: 'shop', env: 'staging' }, '2');
    await registerDeploy(redis.handle.client, keys, { app: 'shop-2', env: 'production' }, '3');
    await redis.handle.client.set(keys.deployLock('shop', 'production'), '1 token', 'PX', 60_000);
    await destroyAppState({ redis: redis.handle.client, keys }, 'shop');
    expect(await listKeys(redis.handle, keys)).toEqual([keys.deployOrder('shop-2', 'production')]);
  });
});
