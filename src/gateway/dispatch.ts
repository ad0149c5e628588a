import type { GatewayConfig, UserConfig } from '../core/config/types.js';
import { authorize } from '../core/access.js';
import { MagratheaError } from '../core/errors.js';
import type { Slots } from '../core/slots.js';
import type { CommandIO } from '../commands/types.js';
import type { AuditEntry } from './audit.js';
import { SSH_COMMANDS, type SshCommand, type SshCommandContext } from '../git/ssh-commands.js';

/** Exit status of an unknown command, as on the local command line. */
export const EXIT_UNKNOWN_COMMAND = 3;

export interface DispatchOptions {
  config: GatewayConfig;
  configDir: string;
  readAudit?: (count: number) => Promise<AuditEntry[]>;
  /** `logs -f` running per user (limits.logs_follow_per_user), one count for SSH and the HTTP API. */
  follows?: Slots;
}

/**
 * How a command ended: its exit status, and why when it did not run or
 * failed (the HTTP API turns these into status codes).
 * `usage`: bad arguments (exit 2); `unknown`: no such command (exit 3);
 * `forbidden`: the user may not; `failed`: the command reported a failure
 * (a MagratheaError, `code` is its code); `error`: anything else.
 */
export interface CommandOutcome {
  exitCode: number;
  refused?: 'usage' | 'unknown' | 'forbidden' | 'failed' | 'error';
  code?: string;
}

/**
 * What the audit log says of a command that was refused rather than run:
 * access denied, no such command, a limit hit. Undefined for one that ran
 * (failed or not) and for a usage error.
 */
export function refusalOf(outcome: CommandOutcome): string | undefined {
  if (outcome.code === 'limit') return 'limit';
  if (outcome.refused === 'forbidden') return 'forbidden';
  if (outcome.refused === 'unknown') return 'unknown-command';
  return undefined;
}

/** A command found and allowed, ready to run; or why not, with the line to show. */
export type PreparedCommand =
  | { ok: true; run(io: CommandIO, extras?: Pick<SshCommandContext, 'ask' | 'session' | 'live'>): Promise<CommandOutcome> }
  | { ok: false; outcome: CommandOutcome; message: string };

/**
 * Looks up one gateway command for `user` and checks it, as `ssh magrathea
 * <argv>` does and the HTTP API does: the command must exist, and its app
 * (as the command reads its arguments) be allowed to the user's role, apps
 * and verbs. Nothing runs yet: the HTTP API answers a refusal with a status
 * before it starts a stream.
 */
export function prepareGatewayCommand(options: DispatchOptions, user: UserConfig, argv: readonly string[]): PreparedCommand {
  const refuse = (message: string, exitCode: number, refused: CommandOutcome['refused']): PreparedCommand => ({ ok: false, outcome: { exitCode, refused }, message });
  const [name, ...args] = argv;
  if (name === undefined || name === 'help') {
    return {
      ok: true,
      async run(io) {
        io.stdout.write(helpText(user));
        return { exitCode: 0 };
      },
    };
  }
  const command = SSH_COMMANDS.find((c) => c.name === name);
  if (!command) return refuse(`magrathea: unknown command ${JSON.stringify(name)}; "ssh magrathea help" lists them`, EXIT_UNKNOWN_COMMAND, 'unknown');
  const app = command.app(args);
  // A command about an app is checked against that app: no app named, no access decided, no run.
  if (app === undefined && command.need !== 'none' && command.need !== 'admin') return refuse(`magrathea ${name}: missing app name; usage: ${name} ${command.usage}`, 2, 'usage');
  const access = authorize(user, command.need, app);
  if (!access.ok) return refuse(`magrathea: ${access.reason}`, 1, 'forbidden');
  const may = (need: Parameters<typeof authorize>[1], other: string) => authorize(user, need, other).ok;
  return {
    ok: true,
    async run(io, extras = {}) {
      try {
        const status = await command.run(args, {
          user,
          stateDir: options.config.gateway.stateDir,
          configDir: options.configDir,
          io,
          may,
          audit: options.readAudit ?? (async () => []),
          ...(options.follows ? { follows: options.follows } : {}),
          ...extras,
        });
        return { exitCode: status ?? 0, ...(status ? { refused: 'failed' as const } : {}) };
      } catch (e) {
        if (e instanceof MagratheaError) {
          io.stderr.write(`${e.message}\n`);
          return { exitCode: e.exitStatus, refused: e.exitStatus === 2 ? 'usage' : e.code === 'forbidden' ? 'forbidden' : 'failed', code: e.code };
        }
        io.stderr.write(`magrathea ${name}: unexpected error: ${(e as Error).message}\n`);
        return { exitCode: 1, refused: 'error' };
      }
    },
  };
}

/** prepareGatewayCommand, then run: a refusal is one line on io.stderr. */
export async function runGatewayCommand(
  options: DispatchOptions,
  user: UserConfig,
  argv: readonly string[],
  io: CommandIO,
  extras: Pick<SshCommandContext, 'ask' | 'session' | 'live'> = {},
): Promise<CommandOutcome> {
  const prepared = prepareGatewayCommand(options, user, argv);
  if (prepared.ok) return prepared.run(io, extras);
  io.stderr.write(`${prepared.message}\n`);
  return prepared.outcome;
}

function helpText(user: UserConfig): string {
  const lines = SSH_COMMANDS.filter((c: SshCommand) => c.need === 'none' || user.role === 'admin' || c.need !== 'admin').map((c) => `  ${`${c.name} ${c.usage}`.padEnd(44)} ${c.summary}`);
  return [
    'usage: ssh magrathea <command> [arguments]',
    '       git push magrathea <branch>        (remote: magrathea:APP)',
    '',
    'commands:',
    ...lines,
    '',
    'Exit status: 0 success, 1 failure, 2 usage, 3 unknown command.',
    '',
  ].join('\n');
}
