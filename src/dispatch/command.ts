import type { Readable, Writable } from 'node:stream';
import type ssh2 from 'ssh2';
import type { GatewayConfig, UserConfig } from '../core/config/types.js';
import type { Need } from '../core/access.js';
import type { DeployEvent } from '../core/deploy-event.js';
import type { Slots } from '../core/slots.js';
import type { GatewayContext } from './context.js';
import type { ArgSpec, ParsedArgs } from './args.js';

/** Where a command can be run from: `magrathea ...` on the gateway, `ssh magrathea ...`, the HTTP API. */
export type Surface = 'cli' | 'ssh' | 'http';

export const EVERYWHERE: readonly Surface[] = ['cli', 'ssh', 'http'];

/**
 * Who may run a command: a Need checked against users.yml (`none`: every
 * user, `admin`: admins, a verb or `read`: on the command's app), or
 * `local`: the gateway's operator only, at its command line (lab, serve).
 */
export type Access = Need | 'local';

/**
 * One command, the same on every surface it is on. The dispatcher parses
 * its arguments with `args` (strictly: an unknown flag is a usage error),
 * reads its app from the first positional (`APP` or `APP@CLUSTER`) when
 * `app` is set, checks `need` once, runs it, and prints the result: as
 * JSON with `--json`, else through `text`. A command that streams (a
 * deploy, logs) writes its lines to ctx.io as they come and returns its
 * summary. A failure is a thrown MagratheaError (its exitStatus is the
 * exit status); a CommandFailure carries a result printed before it.
 */
export interface Command<R = unknown> {
  /** One word (`releases`, `config:set`) or two for a verb of a group (`lab up`, `hook pre-receive`). */
  name: string;
  /** One line for `help`. */
  summary: string;
  /** The argument synopsis, e.g. `APP [--env ENV] [--json]`. */
  usage: string;
  args: ArgSpec;
  need: Access;
  surfaces: readonly Surface[];
  /** false: not recorded in the audit log (the push hooks, whose push the SSH server records; the daemons: serve, worker). */
  audited?: false;
  /** The first positional argument names the app (`app` of `app@cluster`): access is checked against it. */
  app?: boolean;
  run(args: ParsedArgs, ctx: CommandContext): Promise<R>;
  /** The result for a terminal; without it, only `--json` prints it (the command wrote what it had to say). */
  text?(result: R, args: ParsedArgs): string;
  /** What `--json` prints and the HTTP API answers, when it is not the result itself. */
  json?(result: R): unknown;
}

/** Declares a command with its result type checked, for a table of commands of all types. */
export function defineCommand<R>(command: Command<R>): Command {
  return command as unknown as Command;
}

/** Where a command writes: stdout for its result, stderr for notes and errors; stdin where the surface has one to give. */
export interface CommandIO {
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
  cwd: string;
}

/** What a command may use; the same object whatever the surface, with what only some surfaces have marked optional. */
export interface CommandContext {
  user: UserConfig;
  surface: Surface;
  io: CommandIO;
  /** The configuration directory (`--config` at the command line; the gateway's own over SSH and HTTP). */
  configDir: string;
  /** The gateway's configuration as its files say now (read again at each call: an edit applies to the next command). */
  config(): Promise<GatewayConfig>;
  /** Redis, its key names and the deploy queue: the running gateway's, or opened for this command and closed after it. */
  gateway(): Promise<GatewayContext>;
  /** Whether the user may do `need` on `app` (apps:list filters with it). */
  may(need: Need, app: string): boolean;
  /** Every command, for those that start surfaces (serve, demo). */
  commands: readonly Command[];
  /** Asks the client a line (apps:destroy's confirmation); undefined without an interactive client. */
  ask?(prompt: string): Promise<string | undefined>;
  /** The SSH session (channel, PTY, window changes, the client going away), for logs -f and shell. */
  session?: SshSession;
  /** A client that stays until it goes away, without SSH (the HTTP API's streams, the command line), for logs -f. */
  live?: LiveClient;
  /** The HTTP API's stream, which carries a deploy's events as objects: a deploy or rollback says its lines and events there, in order. */
  events?: EventSink;
  /** `logs -f` running per user, SSH and HTTP together (limits.logs_follow_per_user); none: not limited. */
  follows?: Slots;
}

/** Where a deploy followed over the HTTP API goes: its own lines, and its events (each with its line, if it has one). */
export interface EventSink {
  line(text: string): void;
  event(event: DeployEvent): void;
}

/** Where a long-running command writes, with backpressure (write() false: wait for 'drain'), and when its client went away. */
export interface LiveClient {
  output: Writable;
  signal: AbortSignal;
}

/**
 * The SSH session a command runs in, for commands that need more than
 * lines of output: `logs -f` (output with backpressure, until the client
 * goes away) and `shell` (the client's terminal, its input and its size).
 */
export interface SshSession {
  /** The session's channel: the client's input, and output whose write() says when to wait for 'drain'. */
  channel: ssh2.ServerChannel;
  /** The terminal the client asked for (`ssh -t`), with its latest size; undefined without one. */
  pty?: ssh2.PseudoTtyInfo;
  /** Calls `listener` with each new size of the client's terminal (`window-change` requests). */
  onWindowChange(listener: (size: ssh2.WindowChangeInfo) => void): void;
  /** Aborted when the client goes away: the channel closed, or the whole connection. */
  signal: AbortSignal;
}
