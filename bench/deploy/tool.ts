import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run, tail, type RunOptions, type RunResult } from '../../src/adapters/exec.js';
import { shellQuote } from '../../src/adapters/ssh.js';
import type { LabStatus } from '../../src/lab/status.js';
import { CHANGED_FILE } from './app.js';

/** What every tool of the bench is given. */
export interface BenchContext {
  lab: LabStatus;
  /** The cluster's web hosts: where every tool deploys. */
  webHosts: { name: string; address: string }[];
  /** The bench's scratch directory on this machine (the gateway's side). */
  work: string;
  /** The app's git repository; its working tree is at the commit being deployed. */
  repo: string;
  /** A bare clone of `repo` that the lab's hosts can read (Capistrano clones it on every host). */
  bare: string;
  keepReleases: number;
  /** Milliseconds one deploy may take before it is killed. */
  timeoutMs: number;
}

/** One measured deploy: its wall-clock time, and what the tool tells about it. */
export interface Measured {
  seconds: number;
  /** Seconds per phase, where the tool tells them. */
  phases?: Record<string, number>;
  /** Files sent to each host, where the tool tells it. */
  transferred?: number[];
}

export interface DeployTool {
  name: string;
  /** What one measured deploy does. */
  does: string;
  /** What it does not do that Magrathea does. */
  lacks: string;
  /** Installs or writes what the tool needs; throws with the reason when the tool cannot run here. Not measured. Returns the versions used. */
  prepare(): Promise<string>;
  /** Deploys the repository's HEAD to `target` (a directory or app of its own on the hosts): the measured part. */
  deploy(target: string): Promise<Omit<Measured, 'seconds'> | void>;
  /** Checks, after the clock stopped, that `target` serves or holds the change `marker` on every host. */
  check(target: string, marker: string): Promise<void>;
  /** Stops what `prepare` started. */
  close?(): Promise<void>;
}

/** Runs argv on a lab host with the system's OpenSSH client and the lab's ssh config. */
export function onHost(ctx: BenchContext, host: string, argv: readonly string[], timeout = 30_000): Promise<RunResult> {
  return run('ssh', ['-F', ctx.lab.ssh.config, host, '--', shellQuote(argv)], { input: '', timeout });
}

/** Every web host's `<root>/current` holds the change `marker`. */
export async function checkCurrent(ctx: BenchContext, root: string, marker: string): Promise<void> {
  await Promise.all(
    ctx.webHosts.map(async (h) => {
      const found = await run('ssh', ['-F', ctx.lab.ssh.config, h.name, '--', shellQuote(['grep', '-c', '-F', marker, `${root}/current/${CHANGED_FILE}`])], { input: '', reject: false, timeout: 30_000 });
      if (found.exitCode !== 0) throw new Error(`${h.name}: ${root}/current/${CHANGED_FILE} does not say "${marker}" after the deploy (${found.stderr.trim() || 'not found'})`);
    }),
  );
}

/** bench/deploy/templates, whether this runs from the build (dist/bench/deploy/) or from the source. */
export function templatesDir(): string {
  const fromDist = fileURLToPath(new URL('../../../bench/deploy/templates', import.meta.url));
  return existsSync(fromDist) ? fromDist : fileURLToPath(new URL('./templates', import.meta.url));
}

/**
 * Runs a deploy tool's command. Tools print pages of progress; on failure
 * the error keeps the lines that say what went wrong (or the tail).
 */
export async function runTool(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const result = await run(file, args, { ...options, input: '', reject: false });
  if (result.exitCode === 0) return result;
  const lines = `${result.stdout}\n${result.stderr}`.split('\n').map((l) => l.trim());
  const telling = [...new Set(lines.filter((l) => /error|failed|exception|denied|refused|timed out|not found/i.test(l)))].slice(0, 4);
  throw new Error(`${result.command.split(' ').slice(0, 4).join(' ')} exited with ${result.exitCode}: ${telling.length > 0 ? telling.join(' | ') : tail(result.stderr || result.stdout)}`);
}
