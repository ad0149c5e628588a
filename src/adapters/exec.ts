import { appendFile, readFile, stat } from 'node:fs/promises';
import { execa, type Options as ExecaOptions, type ResultPromise } from 'execa';
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

export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const command = [file, ...args].map(quoteForDisplay).join(' ');
  const subprocess = execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: options.extendEnv ?? true,
    input: options.input,
    timeout: options.timeout,
    reject: false,
    stripFinalNewline: false,
  } satisfies ExecaOptions);
  if (options.onLine) {
    const onLine = options.onLine;
    for (const name of ['stdout', 'stderr'] as const) {
      let pending = '';
      subprocess[name]?.on('data', (chunk: Buffer) => {
        const lines = (pending + chunk.toString('utf8')).split('\n');
        pending = lines.pop()!;
        for (const line of lines) onLine(line, name);
      });
      subprocess[name]?.on('end', () => {
        if (pending) onLine(pending, name);
      });
    }
  }
  const began = performance.now();
  const result = await subprocess;
  // No exit code: the program could not start (ENOENT) or was killed (timeout, signal).
  const exitCode = result.exitCode ?? 127;
  if (process.env.MAGRATHEA_TRACE) await trace(process.env.MAGRATHEA_TRACE, began, exitCode, command);
  const stderr = result.exitCode === undefined ? `${String(result.stderr ?? '')}\n${result.shortMessage ?? ''}` : String(result.stderr ?? '');
  const out = { command, exitCode, stdout: String(result.stdout ?? ''), stderr };
  if (exitCode !== 0 && options.reject !== false) throw new CommandError(command, exitCode, out.stdout, out.stderr, result);
  return out;
}

/** A long-running child (daemons of the lab, `ssh` sessions); the caller owns its lifetime. */
export function start(file: string, args: readonly string[], options: RunOptions & { detached?: boolean; stdio?: 'ignore' | 'pipe' } = {}): ResultPromise {
  return execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: options.extendEnv ?? true,
    detached: options.detached ?? false,
    stdio: options.stdio ?? 'pipe',
    reject: false,
    buffer: false,
  });
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
  const result = await execa(file, args, {
    env: options.env,
    extendEnv: options.extendEnv ?? true,
    timeout: options.timeout ?? 30_000,
    stdin: 'ignore',
    stdout: { file: options.log, append: true },
    stderr: { file: options.log, append: true },
    reject: false,
  });
  const exitCode = result.exitCode ?? 127;
  const written = await readFrom(options.log, before);
  const stderr = result.exitCode === undefined ? `${written}\n${result.shortMessage ?? ''}` : written;
  if (exitCode !== 0) throw new CommandError(command, exitCode, '', stderr, result);
  return { command, exitCode, stdout: '', stderr };
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
