import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { openRedis, type RedisHandle } from '../../src/state/redis.js';
import { freshKeys, startTestRedis, waitForExit, type TestRedis } from '../helpers/redis.js';
import { deployData, gate, Opened, sleep } from '../helpers/deploy-queue.js';

let redis: TestRedis;
let restarted: RedisHandle | undefined;
const opened = new Opened();

beforeAll(async () => {
  redis = await startTestRedis();
});

afterAll(async () => {
  await opened.closeAll();
  await restarted?.stop();
  await redis?.stop();
});

describe('the deploy queue across a Redis restart', () => {
  test('a deploy running while Redis is killed and started again completes; jobs before and after are kept and run', async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys);
    const held = gate();
    // Production timings: a Redis restart (about a second with BullMQ's reconnect delay) must not look like a dead worker.
    await opened.worker(redis.handle, keys, async (job) => {
      if (job.data.commit.endsWith('2')) await held.wait;
      await job.log(`deploying ${job.data.commit.slice(-1)}`);
      return { summary: `deployed ${job.data.commit.slice(-1)}` };
    }, { lockDurationMs: 30_000, stalledIntervalMs: 30_000, appLockMs: 30_000 });

    const before = await queue.enqueueDeploy(deployData('shop', 'production', 1));
    expect(await queue.followDeploy(before, () => {})).toEqual({ summary: 'deployed 1' });
    const inFlight = await queue.enqueueDeploy(deployData('shop', 'production', 2));
    const lines: string[] = [];
    const following = queue.followDeploy(inFlight, (l) => lines.push(l));
    while (lines.length === 0) await sleep(10); // its "started" line: it holds the lock and waits on the gate

    // appendfsync everysec: let the last writes reach the disk, then crash the server.
    await sleep(1_100);
    const pid = redis.handle.server!.pid;
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid);
    restarted = await openRedis({ stateDir: redis.stateDir, env: {} });
    expect(restarted.server).toMatchObject({ started: true });

    held.open();
    expect(await following).toEqual({ summary: 'deployed 2' });
    expect(lines.at(-1)).toBe('deploying 2');
    const after = await queue.enqueueDeploy(deployData('shop', 'production', 3));
    expect(await queue.followDeploy(after, () => {})).toEqual({ summary: 'deployed 3' });
    expect(await queue.queue.getJobState(before)).toBe('completed');
  });
});
