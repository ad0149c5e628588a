import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRedis, type RedisHandle } from '../../src/state/redis.js';
import { privateRedisPaths } from '../../src/adapters/redis-server.js';
import { isAlive, waitForExit } from '../helpers/redis.js';

// Every server a test starts is stopped in afterAll, by PID, whatever happened.
const handles: RedisHandle[] = [];
const dirs: string[] = [];
let stateDir: string;
let first: RedisHandle;

async function open(dir: string): Promise<RedisHandle> {
  const handle = await openRedis({ stateDir: dir, env: {} });
  handles.push(handle);
  return handle;
}

/** PIDs of the redis-server processes serving this socket (redis-server shows it in its command line). */
async function serversOf(socket: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('redis-server') && cmdline.includes(socket)) pids.push(Number(entry));
  }
  return pids;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mg-redis-'));
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  stateDir = await tempDir();
  first = await open(stateDir);
});

afterAll(async () => {
  for (const handle of handles.reverse()) await handle.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('private redis-server', () => {
  test('listens on a unix socket in the state directory only, append-only file on, its PID recorded', async () => {
    const paths = privateRedisPaths(stateDir);
    expect(first.server?.started).toBe(true);
    expect(first.address).toBe(`unix:${paths.socket}`);
    expect(existsSync(paths.socket)).toBe(true);
    expect(Number(await readFile(paths.pidFile, 'utf8'))).toBe(first.server!.pid);
    const config = async (name: string) => ((await first.client.config('GET', name)) as string[])[1];
    expect(await config('port')).toBe('0');
    expect(await config('appendonly')).toBe('yes');
    expect(await config('appendfsync')).toBe('everysec');
    expect(await config('dir')).toBe(paths.dir);
    expect(await config('daemonize')).toBe('no');
  });

  test('a second open of the same state directory reuses the running server, and its stop() leaves it running', async () => {
    const second = await openRedis({ stateDir, env: {} });
    expect(second.server).toMatchObject({ started: false, pid: first.server!.pid });
    await second.client.set('shared', 'yes');
    await second.stop();
    expect(isAlive(first.server!.pid)).toBe(true);
    expect(await first.client.get('shared')).toBe('yes');
  });

  test('two opens racing on a fresh state directory start one server, not two (its lock is held for its life)', async () => {
    const dir = await tempDir();
    const [a, b] = await Promise.all([open(dir), open(dir)]);
    expect([a.server!.started, b.server!.started].sort()).toEqual([false, true]);
    expect(a.server!.pid).toBe(b.server!.pid);
    await a.client.set('one', 'server');
    expect(await b.client.get('one')).toBe('server');
    expect(await serversOf(privateRedisPaths(dir).socket)).toEqual([a.server!.pid]);
  });

  test('a running server whose PID file was lost is still found and reused, and its PID recorded again', async () => {
    const paths = privateRedisPaths(stateDir);
    await rm(paths.pidFile);
    const again = await openRedis({ stateDir, env: {} });
    try {
      expect(again.server).toMatchObject({ started: false, pid: first.server!.pid });
      expect(Number(await readFile(paths.pidFile, 'utf8'))).toBe(first.server!.pid);
    } finally {
      await again.stop();
    }
  });

  test('survives a restart: the append-only file keeps the data and the client reconnects by itself', async () => {
    const dir = await tempDir();
    const a = await open(dir);
    await a.client.set('survivor', 'still here');
    // appendfsync everysec: what was written more than a second before a crash is on disk.
    await new Promise((r) => setTimeout(r, 1_100));
    process.kill(a.server!.pid, 'SIGKILL');
    await waitForExit(a.server!.pid);
    const b = await open(dir);
    expect(b.server?.started).toBe(true);
    expect(b.server?.pid).not.toBe(a.server!.pid);
    // The first client never reconnected by hand: ioredis found the new server on the same socket.
    expect(await a.client.get('survivor')).toBe('still here');
    await a.client.set('after', 'restart');
    expect(await b.client.get('after')).toBe('restart');
  });

  test('stop() stops the server it started, by PID, waits for it to exit and removes the PID file', async () => {
    const dir = await tempDir();
    const handle = await open(dir);
    const pid = handle.server!.pid;
    await handle.stop();
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(privateRedisPaths(dir).pidFile)).toBe(false);
  });

  test('a socket path too long for unix sockets is refused, naming the path', async () => {
    const dir = join(await tempDir(), 'x'.repeat(100));
    await expect(openRedis({ stateDir: dir, env: {} })).rejects.toThrow(/cannot start redis-server: its unix socket .*x{100}\/redis\/redis\.sock is \d+ bytes long, the limit is 107/);
  });

  test('a server that cannot start is reported with its socket and the cause', async () => {
    const dir = await tempDir();
    // A directory where the socket should be: redis-server cannot bind it and exits.
    await mkdir(privateRedisPaths(dir).socket, { recursive: true });
    await expect(openRedis({ stateDir: dir, env: {} })).rejects.toThrow(
      new RegExp(`cannot start redis-server on unix socket ${privateRedisPaths(dir).socket.replace(/[.]/g, '\\.')}: redis-server exited with 1`),
    );
  });
});

describe('REDIS_URL', () => {
  test('is used instead of a private server, and an unreachable one is named', async () => {
    const dir = await tempDir();
    const started = Date.now();
    await expect(openRedis({ stateDir: dir, env: { REDIS_URL: 'redis://:secret@127.0.0.1:1/0' } })).rejects.toThrow(
      /^cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0: .*ECONNREFUSED/,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(existsSync(privateRedisPaths(dir).dir)).toBe(false);
  });
});
