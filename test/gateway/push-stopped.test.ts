/**
 * A push whose processes are stopped in the middle (the gateway's service
 * stopped or restarted: every process of it gets SIGTERM, or SIGKILL after
 * its timeout): the next push of the same app and environment must not wait
 * behind the dead one's push lock. Real pushes into a real app repository
 * with the gateway's compiled hooks, and no deploy worker: each push waits
 * at its queued deploy, holding its lock, until it is stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, start } from '../../src/adapters/exec.js';
import { stopPrivateRedis } from '../../src/adapters/redis-server.js';
import { loadGatewayConfig } from '../../src/config/load.js';

const repos = (await import(new URL('../../dist/src/push/repos.js', import.meta.url).href)) as typeof import('../../src/push/repos.js');

let root: string;
let state: string;
let bare: string;
let work: string;
/** Process groups of the pushes started, stopped by the test and again in afterAll whatever happened. */
const groups = new Set<number>();

const git = (...args: string[]) => run('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args]);

/** A push of a new commit to master, in its own process group; resolves once its stderr matches `until` (or the push ended), with what it said so far. */
async function pushUntil(until: RegExp): Promise<{ pid: number; said: string }> {
  await writeFile(join(work, 'index.php'), `<?php echo ${Date.now()};`);
  await git('commit', '-q', '-a', '-m', 'next');
  const child = start('git', ['-C', work, 'push', bare, 'master'], { detached: true });
  groups.add(child.pid!);
  let said = '';
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 60_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      said += String(chunk);
      if (until.test(said)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { pid: child.pid!, said };
}

/** The whole push stopped as a service manager stops it: its process group, then until none of it is left. */
async function stopGroup(pid: number, signal: NodeJS.Signals): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(-pid, i === 0 ? signal : 'SIGKILL');
    } catch {
      groups.delete(pid);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`process group ${pid} still there`);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'magrathea-push-stopped-'));
  state = join(root, 'state');
  const config = join(root, 'config');
  await mkdir(config);
  await writeFile(join(config, 'clusters.yml'), 'c1:\n  hosts:\n    w1: { address: 127.0.131.1, roles: [web] }\n    e1: { address: 127.0.131.2, roles: [cache, balancer] }\n');
  await writeFile(join(config, 'gateway.yml'), `state_dir: ${state}\n`);
  bare = await repos.createRepo(state, 'shop', config, (await loadGatewayConfig(config)).gateway.builds);
  work = join(root, 'work');
  await run('git', ['init', '-q', '-b', 'master', work]);
  await writeFile(join(work, 'magrathea.yml'), 'environments:\n  production: { branch: master, clusters: [c1] }\n');
  await writeFile(join(work, 'index.php'), '<?php echo 0;');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'first');
});

// The pushes' process groups and the state directory's private Redis: stopped by PID, failed or not.
afterAll(async () => {
  for (const pid of groups) await stopGroup(pid, 'SIGKILL').catch(() => undefined);
  await stopPrivateRedis(state).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

const QUEUED = /deploy \S+: shop \(production\)/;
const WAITING = /waiting: another push of shop \(production\)/;

describe('a push stopped in the middle', () => {
  it('does not hold the next push: its lock is freed once its processes are gone, and a live push still holds it', async () => {

    const first = await pushUntil(QUEUED);
    expect(first.said).toMatch(QUEUED);
    await stopGroup(first.pid, 'SIGTERM');

    // Not waiting for the lock's 30-minute expiry: freed, and said so.
    const second = await pushUntil(new RegExp(`${QUEUED.source}|${WAITING.source}`));
    expect(second.said).not.toMatch(WAITING);
    expect(second.said).toMatch(/an earlier push of shop \(production\) ended without freeing its lock \(push:[^)]+\): freed/);
    expect(second.said).toMatch(QUEUED);

    // The second push runs: the next one waits for it (a live holder is never taken for a gone one).
    const third = await pushUntil(new RegExp(`${QUEUED.source}|${WAITING.source}`));
    expect(third.said).toMatch(WAITING);
    expect(third.said).not.toMatch(QUEUED);
    await stopGroup(third.pid, 'SIGKILL');
    await stopGroup(second.pid, 'SIGKILL');
  }, 180_000);
});
