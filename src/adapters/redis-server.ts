import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MagratheaError } from '../core/errors.js';
import { start, tail, type Exit } from './exec.js';

/**
 * The private redis-server a gateway runs when no REDIS_URL is given: one
 * per state directory, on a unix socket only, with the append-only file on
 * so that a restart (or a crash, minus the last second) loses nothing.
 */
export interface PrivateRedisOptions {
  /** The gateway's state directory; the server's files go in `<stateDir>/redis/`. */
  stateDir: string;
  /** Milliseconds to wait for the server to answer PING. Default 10 000. */
  startTimeoutMs?: number;
}

export interface PrivateRedis {
  /** The unix socket the server listens on: `<stateDir>/redis/redis.sock`. */
  socket: string;
  pid: number;
  /** True when this call started the server; false when it found one already running for this state directory. */
  started: boolean;
  /** Stops the server if this call started it (SIGTERM by PID, SIGKILL after 10 s), and waits for it to exit. */
  stop(): Promise<void>;
}

export interface PrivateRedisPaths {
  dir: string;
  socket: string;
  pidFile: string;
  lockFile: string;
  logFile: string;
}

/** Where the private server of a state directory keeps its files. */
export function privateRedisPaths(stateDir: string): PrivateRedisPaths {
  const dir = join(stateDir, 'redis');
  return { dir, socket: join(dir, 'redis.sock'), pidFile: join(dir, 'redis.pid'), lockFile: join(dir, 'redis.lock'), logFile: join(dir, 'redis.log') };
}

// sun_path holds 108 bytes with the terminating NUL; a longer path fails deep inside redis-server.
const MAX_SOCKET_PATH = 107;
// flock's exit status when another process holds the lock (chosen to differ from redis-server's 1).
const LOCK_HELD = 75;

/** Reuses the running private server of `stateDir`, or starts one. */
export async function ensurePrivateRedis(options: PrivateRedisOptions): Promise<PrivateRedis> {
  const paths = privateRedisPaths(options.stateDir);
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  if (Buffer.byteLength(paths.socket) > MAX_SOCKET_PATH) {
    throw new MagratheaError(
      `cannot start redis-server: its unix socket ${paths.socket} is ${Buffer.byteLength(paths.socket)} bytes long, the limit is ${MAX_SOCKET_PATH}; use a shorter state directory or set REDIS_URL`,
      'redis-unavailable',
    );
  }
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const running = await findRunning(paths);
  if (running) return reused(paths, running);
  return startServer(paths, timeoutMs);
}

async function startServer(paths: PrivateRedisPaths, timeoutMs: number): Promise<PrivateRedis> {
  // flock --no-fork execs redis-server holding an exclusive lock on redis.lock for the server's whole life:
  // the kernel, not a PID file, guarantees one server per state directory, even when two gateways start at once.
  const child = start('flock', [
    '--nonblock', '--no-fork', '--conflict-exit-code', String(LOCK_HELD), paths.lockFile,
    'redis-server',
    '--port', '0',
    '--unixsocket', paths.socket,
    '--unixsocketperm', '700',
    '--dir', paths.dir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--daemonize', 'no',
    '--logfile', paths.logFile,
  ], { detached: true, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
  let exited: Exit | undefined;
  const exit = child.then((r) => { exited = r; });

  const deadline = Date.now() + timeoutMs;
  // Answering is not enough: the server of a process that won a race for the lock answers too,
  // while our flock is about to exit. Ours is the one whose PID is our child's.
  let ours = false;
  while (!exited && Date.now() < deadline) {
    if ((await pingSocket(paths.socket)) && (await askServerPid(paths.socket)) === child.pid) {
      ours = true;
      break;
    }
    await sleep(20);
  }
  if (!ours) await Promise.race([exit, sleep(200)]);
  if (exited?.exitCode === LOCK_HELD) {
    // Another process is starting (or runs) the server of this state directory: use it once it answers.
    const other = await waitForRunning(paths, deadline);
    if (other) return reused(paths, other);
    throw unavailable(paths, 'another process holds its lock but the server never answered', output);
  }
  if (exited || child.pid === undefined) {
    const why = exited?.exitCode === undefined ? 'redis-server or flock could not run (install the redis-server and util-linux packages: npm run setup)' : `redis-server exited with ${exited.exitCode}`;
    throw unavailable(paths, why, output || (await readLogTail(paths.logFile)));
  }
  if (!ours) {
    process.kill(child.pid, 'SIGKILL');
    await exit;
    throw unavailable(paths, `no answer after ${timeoutMs} ms`, await readLogTail(paths.logFile));
  }
  const pid = child.pid;
  await writeFile(paths.pidFile, `${pid}\n`);
  // The server outlives this process unless stopped: another gateway process may reuse it.
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.stdin?.destroy();
  child.unref();
  let stopping: Promise<void> | undefined;
  return {
    socket: paths.socket,
    pid,
    started: true,
    stop: () => (stopping ??= stopStarted(paths, pid, exit, () => exited !== undefined)),
  };
}

async function stopStarted(paths: PrivateRedisPaths, pid: number, exit: Promise<void>, hasExited: () => boolean): Promise<void> {
  if (!hasExited()) {
    signal(pid, 'SIGTERM');
    const timer = setTimeout(() => signal(pid, 'SIGKILL'), 10_000);
    await exit;
    clearTimeout(timer);
  }
  // Only our own PID file: a server started since (after ours was killed) owns a newer one.
  if ((await readPid(paths.pidFile)) === pid) await rm(paths.pidFile, { force: true });
}

/**
 * Stops the private server of a state directory that nobody is stopping:
 * one left running by a process killed without its cleanup (a SIGKILLed
 * worker). Found by its PID file or by asking it, checked to be that
 * directory's redis-server, stopped by PID (SIGTERM, SIGKILL after 10 s).
 * Returns its PID, or undefined when none was running.
 */
export async function stopPrivateRedis(stateDir: string): Promise<number | undefined> {
  const paths = privateRedisPaths(stateDir);
  const pid = await findRunning(paths);
  if (pid === undefined) return undefined;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (await isServerOf(pid, paths.socket)) {
    if (Date.now() > deadline) signal(pid, 'SIGKILL');
    await sleep(50);
  }
  if ((await readPid(paths.pidFile)) === pid) await rm(paths.pidFile, { force: true });
  return pid;
}

function reused(paths: PrivateRedisPaths, pid: number): PrivateRedis {
  return { socket: paths.socket, pid, started: false, stop: async () => {} };
}

/**
 * The PID of the server of these paths when it is alive and answers on its
 * socket. The PID file first; the server itself (INFO's process_id) when the
 * file is missing or stale, e.g. its starter was killed before writing it.
 */
async function findRunning(paths: PrivateRedisPaths): Promise<number | undefined> {
  if (!(await pingSocket(paths.socket))) return undefined;
  const recorded = await readPid(paths.pidFile);
  if (recorded !== undefined && (await isServerOf(recorded, paths.socket))) return recorded;
  const pid = await askServerPid(paths.socket);
  if (pid === undefined || !(await isServerOf(pid, paths.socket))) return undefined;
  await writeFile(paths.pidFile, `${pid}\n`);
  return pid;
}

async function waitForRunning(paths: PrivateRedisPaths, deadline: number): Promise<number | undefined> {
  while (Date.now() < deadline) {
    const pid = await findRunning(paths);
    if (pid !== undefined) return pid;
    await sleep(50);
  }
  return undefined;
}

// redis-server rewrites its command line to `redis-server unixsocket:<path>`: that tells a reused PID from our server.
async function isServerOf(pid: number, socket: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
    return cmdline.includes('redis-server') && cmdline.includes(socket);
  } catch {
    return true;
  }
}

async function readPid(pidFile: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function readLogTail(logFile: string): Promise<string> {
  try {
    return await readFile(logFile, 'utf8');
  } catch {
    return '';
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

function unavailable(paths: PrivateRedisPaths, why: string, output: string): MagratheaError {
  const detail = tail(output);
  return new MagratheaError(
    `cannot start redis-server on unix socket ${paths.socket}: ${why}${detail ? `: ${detail}` : ''} (log: ${paths.logFile})`,
    'redis-unavailable',
  );
}

/**
 * True when a Redis answers PING on the socket. A raw RESP exchange rather
 * than a client: no reconnects, no retries, just "is it there yet". A server
 * still loading its append-only file answers -LOADING, which is "not yet".
 */
export async function pingSocket(socket: string, timeoutMs = 500): Promise<boolean> {
  return (await ask(socket, 'PING', (reply) => (reply.includes('\r\n') ? reply : undefined), timeoutMs))?.startsWith('+PONG') ?? false;
}

/** The PID the server on the socket reports (INFO server: process_id). */
async function askServerPid(socket: string, timeoutMs = 500): Promise<number | undefined> {
  const reply = await ask(socket, 'INFO server', (r) => /process_id:(\d+)\r\n/.exec(r)?.[1] ?? (r.startsWith('-') && r.includes('\r\n') ? '' : undefined), timeoutMs);
  return reply ? Number(reply) : undefined;
}

/** Sends one inline command; `done` says when the reply so far is enough (its value is returned). */
function ask(socket: string, command: string, done: (reply: string) => string | undefined, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const conn = createConnection({ path: socket });
    let reply = '';
    const finish = (value: string | undefined) => {
      clearTimeout(timer);
      conn.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    conn.on('connect', () => conn.write(`${command}\r\n`));
    conn.on('data', (d) => {
      reply += d.toString();
      const value = done(reply);
      if (value !== undefined) finish(value);
    });
    conn.on('error', () => finish(undefined));
    conn.on('close', () => finish(undefined));
  });
}
