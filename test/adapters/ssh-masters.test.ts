import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HostSession, type SshSettings } from '../../src/adapters/ssh.js';
import { SshMasterPool } from '../../src/adapters/ssh-masters.js';
import { LAB_PORTS } from '../../src/lab/plan.js';
import type { LabStatus } from '../../src/lab/status.js';
import { useLab } from '../helpers/lab.js';

/**
 * The SSH masters kept between sessions (a deploy's, a db command's), on a
 * host of the shared lab: shared, checked, replaced when dead, stopped by
 * pid when idle or when the pool closes.
 */
let lab: LabStatus;
let dir: string;
const pools: SshMasterPool[] = [];

beforeAll(async () => {
  lab = await useLab();
  dir = await mkdtemp(join(tmpdir(), 'mg-ssh-test-'));
}, 120_000);

afterAll(async () => {
  for (const pool of pools) await pool.close();
  await rm(dir, { recursive: true, force: true });
});

function sessionTo(pool: SshMasterPool, idleSeconds: number): HostSession {
  const host = lab.hosts.find((h) => h.name === 'a-web-1')!;
  const settings: SshSettings = { identity: lab.ssh.identity, knownHosts: lab.ssh.knownHosts, controlDir: dir, masterIdleSeconds: idleSeconds, masters: pool };
  return new HostSession({ name: host.name, address: host.address, user: 'root', port: LAB_PORTS.ssh }, settings);
}

function newPool(): SshMasterPool {
  const pool = new SshMasterPool();
  pools.push(pool);
  return pool;
}

/** Running (a zombie waiting for init to reap it has an empty command line). */
function alive(pid: number | undefined): boolean {
  try {
    return pid !== undefined && readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';
  } catch {
    return false;
  }
}

describe('SSH masters kept between sessions', () => {
  it('one session closing leaves the master to the other; the last one out starts its idle time, after which it is stopped by pid', async () => {
    const pool = newPool();
    const one = sessionTo(pool, 1);
    const two = sessionTo(pool, 1);
    await one.open();
    await two.open();
    const pid = pool.pidOf(one.controlPath());
    expect(alive(pid)).toBe(true);
    await one.close();
    // A db command's close used to exit the master under a deploy: the other session still runs commands, on the same master.
    expect((await two.exec(['echo', 'still here'])).stdout).toBe('still here\n');
    expect(pool.pidOf(two.controlPath())).toBe(pid);
    await two.close();
    expect(alive(pid)).toBe(true);
    // Taken again within its idle time: the same master.
    const three = sessionTo(pool, 1);
    await three.open();
    expect(pool.pidOf(three.controlPath())).toBe(pid);
    await three.close();
    await sleep(2_500);
    expect(alive(pid)).toBe(false);
    expect(pool.stats().masters).toBe(0);
  });

  it('a master killed between two sessions is replaced by the next open, which works', async () => {
    const pool = newPool();
    const first = sessionTo(pool, 60);
    await first.open();
    await first.close();
    const pid = pool.pidOf(first.controlPath())!;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 40 && alive(pid); i++) await sleep(50);
    const second = sessionTo(pool, 60);
    await second.open();
    expect((await second.exec(['echo', 'reconnected'])).stdout).toBe('reconnected\n');
    const next = pool.pidOf(second.controlPath());
    expect(next).not.toBe(pid);
    expect(alive(next)).toBe(true);
    await second.close();
    // The worker stops: its masters are stopped by pid, idle time or not.
    await pool.close();
    expect(alive(next)).toBe(false);
  });

  it('with no idle time, the master stops with its last session', async () => {
    const pool = newPool();
    const session = sessionTo(pool, 0);
    await session.open();
    const pid = pool.pidOf(session.controlPath());
    expect(alive(pid)).toBe(true);
    await session.close();
    expect(alive(pid)).toBe(false);
  });

  it('an unreachable host is said so, and leaves no master behind', async () => {
    const pool = newPool();
    const settings: SshSettings = { identity: lab.ssh.identity, knownHosts: lab.ssh.knownHosts, controlDir: dir, masterIdleSeconds: 60, masters: pool, connectTimeout: 2 };
    // A loopback address no lab host has: refused at once.
    const session = new HostSession({ name: 'nowhere', address: '127.0.0.2', user: 'root', port: 1 }, settings);
    await expect(session.open()).rejects.toThrow(/cannot reach host nowhere: .*refused/);
    expect(pool.stats()).toEqual({ masters: 0, users: 0 });
  });
});
