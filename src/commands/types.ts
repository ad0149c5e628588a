import type { Writable } from 'node:stream';

/** Where a command writes, and from where it was called. */
export interface CommandIO {
  stdout: Writable;
  stderr: Writable;
  cwd: string;
  /** Who runs it, when not the local user (the SSH gateway's authenticated user). */
  user?: string;
}

/**
 * One `magrathea <name>` command. `run` writes its output and returns; on
 * failure it throws a MagratheaError (whose exitStatus the CLI uses). Only
 * src/cli sets the process's exit status.
 */
export interface Command {
  name: string;
  /** One line for `magrathea help`. */
  summary: string;
  /** The argument synopsis, e.g. `APP_DIR --config DIR [--env ENV]`. */
  usage: string;
  run(args: string[], io: CommandIO): Promise<void>;
}
