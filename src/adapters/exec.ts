import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, open, readFile, stat } from 'node:fs/promises';
import { MagratheaError } from '../core/errors.js';

/**
 * The one place that starts processes. Always an argv array, never a shell
 * string: arguments reach the program exactly as given.
 */
export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Replace the environment instead of extending it. Default false. */
  extendEnv?: boolean;
  input?: string | Buffer;
  /** Milliseconds before the process is killed. Default: none. */
  timeout?: number;
  /** Return the result instead of throwing when the exit code is not 0. Default false. */
  reject?: boolean;
  /** Called with each line of stdout and stderr as it comes (the output is still collected). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A process that failed: names the command, its exit code and the tail of its stderr. */
export class CommandError extends MagratheaError {
  constructor(
    readonly command: string,
    readonly exitCode: number,
    readonly stdout: string,
    readonly stderr: string,
    cause?: unknown,
  ) {
    super(`${command} exited with ${exitCode}${tail(stderr || stdout) ? `: ${tail(stderr || stdout)}` : ''}`, 'command-failed', 1, false, { cause });
    this.name = 'CommandError';
  }
}

/** What run() keeps of a child's output at most, per stream; past it the child is killed (execa's default limit). */
const MAX_OUTPUT_BYTES = 100 * 1024 * 1024;
/** After a timeout's SIGTERM, a child still running gets SIGKILL this much later. */
const KILL_AFTER_MS = 5_000;

/**
 * Runs a program to its end and returns its output, with node's own
 * `spawn` rather than execa: this is the path of every ssh, rsync and curl
 * of a deploy, and execa doubled the parent's CPU time per process started.
 * Without `input`, the child's stdin is closed at once (it reads EOF).
 */
export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const command = [file, ...args].map(quoteForDisplay).join(' ');
  const began = performance.now();
  const ended = await collect(file, args, options);
  // No exit code: the program could not start (ENOENT) or was killed (timeout, signal).
  const exitCode = ended.exitCode ?? 127;
  if (process.env.MAGRATHEA_TRACE) await trace(process.env.MAGRATHEA_TRACE, began, exitCode, command);
  const stderr = ended.exitCode === undefined ? `${ended.stderr}\n${ended.why}` : ended.stderr;
  const out = { command, exitCode, stdout: ended.stdout, stderr };
  if (exitCode !== 0 && options.reject !== false) throw new CommandError(command, exitCode, out.stdout, out.stderr);
  return out;
}

interface Ended {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** Why there is no exit code: the spawn's error, the timeout, or the signal. */
  why: string;
}

/** The children of this process not started detached: killed when it exits, as a shell's jobs are. */
const attached = new Set<ChildProcess>();

/**
 * Follows a child until it ends. A process that exits (a gateway stopped
 * in the middle of a push or a deploy) takes them with it: git-receive-pack
 * and its hooks, ssh commands, rsync. Detached children (daemons) stay.
 */
function attach<T extends ChildProcess>(child: T): T {
  attached.add(child);
  child.once('exit', () => attached.delete(child));
  child.once('error', () => {
    if (child.pid === undefined) attached.delete(child);
  });
  return child;
}

function killAttached(): void {
  for (const child of attached) child.kill('SIGTERM');
}
process.on('exit', killAttached);

function childEnv(options: Pick<RunOptions, 'env' | 'extendEnv'>): NodeJS.ProcessEnv {
  const env = (options.extendEnv ?? true) ? { ...process.env, ...options.env } : { ...options.env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  return env;
}

function collect(file: string, args: readonly string[], options: RunOptions): Promise<Ended> {
  return new Promise((resolve) => {
    const child = attach(spawn(file, args, { cwd: options.cwd, env: childEnv(options), stdio: ['pipe', 'pipe', 'pipe'] }));
    const output = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const sizes = { stdout: 0, stderr: 0 };
    let why = '';
    let done = false;
    const stop = (reason: string): void => {
      if (why === '') why = reason;
      child.kill('SIGTERM');
      killer ??= setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    };
    let killer: NodeJS.Timeout | undefined;
    const timer = options.timeout ? setTimeout(() => stop(`Command timed out after ${options.timeout} milliseconds: ${file}`), options.timeout) : undefined;
    for (const name of ['stdout', 'stderr'] as const) {
      let pending = '';
      child[name].on('data', (chunk: Buffer) => {
        sizes[name] += chunk.length;
        if (sizes[name] > MAX_OUTPUT_BYTES) return stop(`Command's ${name} was larger than ${MAX_OUTPUT_BYTES} bytes: ${file}`);
        output[name].push(chunk);
        if (!options.onLine) return;
        const lines = (pending + chunk.toString('utf8')).split('\n');
        pending = lines.pop()!;
        for (const line of lines) options.onLine(line, name);
      });
      child[name].on('end', () => {
        if (pending && options.onLine) options.onLine(pending, name);
      });
    }
    // A child that exits without reading its input: the write's EPIPE is no failure of ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
    const finish = (exitCode: number | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(killer);
      resolve({ exitCode, stdout: Buffer.concat(output.stdout).toString('utf8'), stderr: Buffer.concat(output.stderr).toString('utf8'), why });
    };
    child.on('error', (e) => {
      why ||= `${e.message}: ${file}`;
      // Never started (ENOENT, EACCES): no 'close' comes.
      if (child.pid === undefined) finish(undefined);
    });
    child.on('close', (code, signal) => {
      if (signal && why === '') why = `Command was killed with ${signal}: ${file}`;
      finish(why === '' && code !== null ? code : undefined);
    });
  });
}

/** How a started child ended: its exit code, or the signal that killed it (then no exit code). */
export interface Exit {
  exitCode?: number;
  signal?: NodeJS.Signals;
}

/** A started child: the process (its pid, streams, kill) and a promise of its end, which never rejects. */
export type Started = ChildProcess & Promise<Exit>;

/** A long-running child (daemons of the lab, `ssh` sessions, git's server side); the caller owns its lifetime. */
export function start(file: string, args: readonly string[], options: RunOptions & { detached?: boolean; stdio?: 'ignore' | 'pipe' } = {}): Started {
  const child = spawn(file, args, { cwd: options.cwd, env: childEnv(options), detached: options.detached ?? false, stdio: options.stdio ?? 'pipe' });
  if (!options.detached) attach(child);
  // A child that exits while its input is still written to (git refusing a pack too large) fails that write
  // with EPIPE: the caller learns of it from the exit, and an unhandled stream error would end this process.
  child.stdin?.on('error', () => undefined);
  const ended = new Promise<Exit>((resolve) => {
    child.on('error', () => {
      // Never started (ENOENT, EACCES): no 'exit' comes.
      if (child.pid === undefined) resolve({});
    });
    child.on('close', (code, signal) => resolve(code === null ? { ...(signal ? { signal } : {}) } : { exitCode: code }));
  });
  return Object.assign(child, { then: ended.then.bind(ended), catch: ended.catch.bind(ended), finally: ended.finally.bind(ended), [Symbol.toStringTag]: 'Promise' }) as unknown as Started;
}

export interface DaemonOptions {
  /** File the launcher's and the daemon's stdout and stderr are appended to. */
  log: string;
  env?: Record<string, string | undefined>;
  /** Replace the environment instead of extending it. Default false. */
  extendEnv?: boolean;
  /** Milliseconds before the launcher is killed. Default 30 000. */
  timeout?: number;
}

/**
 * Runs a program that detaches itself (sshd, apache2ctl start, varnishd,
 * haproxy -D, php-fpm) and waits for the launcher to exit, not for the
 * daemon. Its stdout and stderr are appended to `log` instead of pipes: a
 * daemon that keeps its inherited pipes open would otherwise hold `run`
 * until it dies. On a non-zero exit, the error carries what the launcher
 * wrote to the log.
 */
export async function runDaemon(file: string, args: readonly string[], options: DaemonOptions): Promise<RunResult> {
  const command = [file, ...args].map(quoteForDisplay).join(' ');
  const before = await fileSize(options.log);
  const ended = await launch(file, args, options);
  const exitCode = ended.exitCode ?? 127;
  const written = await readFrom(options.log, before);
  const stderr = ended.exitCode === undefined ? `${written}\n${ended.why}` : written;
  if (exitCode !== 0) throw new CommandError(command, exitCode, '', stderr);
  return { command, exitCode, stdout: '', stderr };
}

/** The launcher with its stdout and stderr appended to the log, waited for (not the daemon it leaves behind). */
async function launch(file: string, args: readonly string[], options: DaemonOptions): Promise<Omit<Ended, 'stdout' | 'stderr'>> {
  const log = await open(options.log, 'a');
  try {
    return await new Promise((resolve) => {
      const child = attach(spawn(file, args, { env: childEnv(options), stdio: ['ignore', log.fd, log.fd] }));
      let why = '';
      const timeout = options.timeout ?? 30_000;
      const timer = setTimeout(() => {
        why = `Command timed out after ${timeout} milliseconds: ${file}`;
        child.kill('SIGKILL');
      }, timeout);
      child.on('error', (e) => {
        why ||= `${e.message}: ${file}`;
        if (child.pid === undefined) {
          clearTimeout(timer);
          resolve({ exitCode: undefined, why });
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (signal && why === '') why = `Command was killed with ${signal}: ${file}`;
        resolve({ exitCode: why === '' && code !== null ? code : undefined, why });
      });
    });
  } finally {
    await log.close();
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function readFrom(path: string, offset: number): Promise<string> {
  try {
    return (await readFile(path)).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

/** The last lines of a command's output, short enough for one line a human reads. */
export function tail(text: string, maxLength = 300): string {
  const lines = text.trim().split('\n').filter((l) => l.trim() !== '');
  let out = '';
  for (let i = lines.length - 1; i >= 0; i--) {
    const next = out ? `${lines[i]!.trim()} | ${out}` : lines[i]!.trim();
    if (next.length > maxLength) break;
    out = next;
  }
  return out || (lines.at(-1) ?? '').slice(-maxLength);
}

function quoteForDisplay(arg: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * MAGRATHEA_TRACE=FILE: each process run, appended to FILE as it ends (its
 * end in ms since this process started, how long it ran, its exit code, the
 * command without ssh's -o options): where a deploy's time goes.
 */
async function trace(file: string, began: number, exitCode: number, command: string): Promise<void> {
  const now = performance.now();
  // The host agent's script (sent with each call) by its name: what follows it is the step and its arguments.
  const agent = command.lastIndexOf(' magrathea-agent ');
  const shown = (agent >= 0 ? `${command.slice(0, command.indexOf(' -- ') + 4)}[host agent]${command.slice(agent + 16)}` : command).replace(/ -o \S+/g, '').slice(0, 400);
  await appendFile(file, `${now.toFixed(0)} ${(now - began).toFixed(0)}ms exit ${exitCode} ${shown}\n`).catch(() => undefined);
}
