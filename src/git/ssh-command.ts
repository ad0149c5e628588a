import type { Writable } from 'node:stream';
import type { UserConfig } from '../core/config/types.js';
import type { Need } from '../core/access.js';
import type { Slots } from '../core/slots.js';
import type { CommandIO } from '../commands/types.js';
import type { AuditEntry } from '../gateway/audit.js';
import type { SshSession } from '../gateway/ssh/session.js';

export interface SshCommandContext {
  user: UserConfig;
  stateDir: string;
  configDir: string;
  io: CommandIO;
  /** Whether `user` may do `need` on `app` (apps:list filters with it). */
  may(need: Need, app: string): boolean;
  /** Asks the client a line (apps:destroy's confirmation); undefined without an interactive channel. */
  ask?(prompt: string): Promise<string | undefined>;
  /** The newest audit entries. */
  audit(count: number): Promise<AuditEntry[]>;
  /** The SSH session itself (channel, PTY, window changes, the client going away), for logs -f and shell. */
  session?: SshSession;
  /** A client that stays until it goes away, without SSH (the HTTP API's streams), for logs -f. */
  live?: LiveClient;
  /** `logs -f` running per user, SSH and HTTP together (limits.logs_follow_per_user); none: not limited. */
  follows?: Slots;
}

/** Where a long-running command writes, with backpressure (write() false: wait for 'drain'), and when its client went away. */
export interface LiveClient {
  output: Writable;
  signal: AbortSignal;
}

/**
 * A command of `ssh magrathea <command>`. Only these exist over SSH: each
 * parses its own arguments strictly and builds the argv of the gateway
 * command it runs, so no client flag (`--config`, `--dir`) can reach one.
 */
export interface SshCommand {
  name: string;
  summary: string;
  usage: string;
  need: Need;
  /** The app the command acts on, from its arguments (for access control); undefined for none. */
  app(args: string[]): string | undefined;
  /** Resolves to the exit status to send (shell: the remote one); nothing means 0. */
  run(args: string[], ctx: SshCommandContext): Promise<void | number>;
}
