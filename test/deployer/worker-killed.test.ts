import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { start } from '../../src/adapters/exec.js';
import { freshKeys, isAlive, listKeys, startTestRedis, waitForExit, type TestRedis } from '../helpers/redis.js';
import { deployData, Opened } from '../helpers/deploy-queue.js';
import { waitFor } from '../helpers/wait.js';

let redis: TestRedis;
const opened = new Opened();
// PIDs of worker processes this file started: killed in afterEach whatever happened.
const children: number[] = [];

const loader = fileURLToPath(new URL('../fixtures/worker-loader.mjs', import.meta.url));
const fixture = fileURLToPath(new URL('../fixtures/worker-process.ts', import.meta.url));

/** Starts test/fixtures/worker-process.ts in a node process of its own; resolves with its PID once it takes jobs. */
async function startWorkerProcess(prefix: string, mode: 'hang' | 'ok'): Promise<number> {
  const child = start(process.execPath, ['--import', loader, fixture], { env: { STATE_DIR: redis.stateDir, PREFIX: prefix, MODE: mode }, stdio: 'pipe' });
  if (child.pid === undefined) throw new Error('worker process did not start');
  children.push(child.pid);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('ready\n')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    void child.then((r) => reject(new Error(`worker process exited with ${r.exitCode ?? r.signal}: ${output}`)));
  });
  return child.pid;
}

beforeAll(async () => {
  redis = await startTestRedis();
});

afterEach(async () => {
  for (const pid of children.splice(0)) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await waitForExit(pid);
  }
  await opened.closeAll();
});

afterAll(async () => {
  await opened.closeAll();
  await redis?.stop();
});

describe('a worker killed mid-deploy', () => {
  test('its job runs again on another worker and completes; its app lock expires; the next deploy of the app follows', async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys);
    const doomed = await startWorkerProcess(keys.prefix, 'hang');

    const first = await queue.enqueueDeploy(deployData('shop', 'production', 1));
    const second = await queue.enqueueDeploy(deployData('shop', 'production', 2));
    const lines: string[] = [];
    const following = queue.followDeploy(first, (l) => lines.push(l));
    await waitFor('the doomed worker to start the deploy', async () => (lines.includes(`processing on pid ${doomed}`) ? true : undefined), 5_000);

    process.kill(doomed, 'SIGKILL');
    await waitForExit(doomed);
    const killedAt = Date.now();
    // The dead worker's lock on shop (production) is still there: it must expire, not be stolen.
    expect(await redis.handle.client.get(keys.deployLock('shop', 'production'))).toMatch(new RegExp(`^${first} `));

    const runs: { id: string; attempt: number; at: number }[] = [];
    await opened.worker(redis.handle, keys, async (job) => {
      runs.push({ id: job.id, attempt: job.attempt, at: Date.now() });
      return { summary: `deployed ${job.data.commit.slice(-1)} by the survivor` };
    });

    expect(await following).toEqual({ summary: 'deployed 1 by the survivor' });
    expect(await queue.followDeploy(second, () => {})).toEqual({ summary: 'deployed 2 by the survivor' });
    // The killed deploy ran again first (arrival order kept), then the next one.
    expect(runs.map((r) => r.id)).toEqual([first, second]);
    expect(runs[0]!.attempt).toBe(1);
    expect(lines.filter((l) => l.startsWith(`deploy ${first} of shop (production) started on`))).toHaveLength(2);
    expect(lines.at(-1)).toMatch(/, attempt 1, run again after its worker stopped$/);
    process.stderr.write(`worker killed: its deploy started again ${runs[0]!.at - killedAt} ms after the SIGKILL (BullMQ lock 1 000 ms, stalled check 500 ms, app lock 1 000 ms)\n`);
    await waitFor('the order and lock to be cleared', async () => ((await listKeys(redis.handle, keys)).some((k) => /:deploy-(lock|order):/.test(k)) ? undefined : true), 5_000);
  });

  test('a worker process that completes deploys reuses the private Redis of the state dir', async () => {
    const keys = freshKeys();
    const queue = await opened.queue(redis.handle, keys);
    const pid = await startWorkerProcess(keys.prefix, 'ok');
    const id = await queue.enqueueDeploy(deployData('blog'));
    expect(await queue.followDeploy(id, () => {})).toEqual({ summary: `deployed by pid ${pid}` });
    // Its own exit must not stop the server it did not start.
    process.kill(pid, 'SIGTERM');
    await waitForExit(pid);
    expect(await redis.handle.client.ping()).toBe('PONG');
  });
});
