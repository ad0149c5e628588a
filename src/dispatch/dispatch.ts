import { loadGatewayConfig } from '../config/load.js';
import type { GatewayConfig, UserConfig } from '../core/config/types.js';
import { authorize, scopeAllows, type Need, type Scope } from '../core/access.js';
import { CommandFailure, MagratheaError } from '../core/errors.js';
import type { Slots } from '../core/slots.js';
import { auditText, recordAudit, type AuditEntry } from '../state/audit.js';
import { openGatewayContext, type GatewayContext } from './context.js';
import { parseArgs, type ParsedArgs } from './args.js';
import type { Command, CommandContext, CommandIO, Surface } from './command.js';

/** Exit status of an unknown command, distinct from failures (1) and usage errors (2). */
export const EXIT_UNKNOWN_COMMAND = 3;

export interface DispatcherOptions {
  commands: readonly Command[];
  surface: Surface;
  configDir: string;
  /** The running gateway's context (serve); without it, a command that needs one opens it and it is closed after the command. */
  gateway?: GatewayContext;
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

/** A command's outcome and, when it ran, its result (what --json prints; the HTTP API's answer). */
export interface Ran extends CommandOutcome {
  result?: unknown;
}

/** What a surface adds for one run: who is asking, from where, and what only it has. */
export interface RunExtras extends Pick<CommandContext, 'ask' | 'session' | 'live' | 'events'> {
  /** The client's address and port, for the audit log. */
  from?: string;
  /** The command line as the client typed it, for the audit log (default: the argv joined). */
  line?: string;
  /** false: the result is returned only, not printed (the HTTP API answers it as JSON). */
  print?: boolean;
  /** The scopes of the token the request came with (HTTP API): only commands within them run. */
  scopes?: readonly Scope[];
}

/** A command found, parsed and allowed, ready to run; or why not, with the line to show. */
export type Prepared = { ok: true; command: Command; run(io: CommandIO, extras?: RunExtras): Promise<Ran> } | { ok: false; outcome: CommandOutcome; message: string };

/**
 * What a refusal is called in the audit log: access denied, no such
 * command, a limit hit. Undefined for a command that ran (failed or not)
 * and for a usage error.
 */
export function refusalOf(outcome: CommandOutcome): string | undefined {
  if (outcome.code === 'limit') return 'limit';
  if (outcome.refused === 'forbidden') return 'forbidden';
  if (outcome.refused === 'unknown') return 'unknown-command';
  return undefined;
}

/**
 * The one way a command runs, from the command line, `ssh magrathea` and
 * the HTTP API alike: the command is looked up among those of the surface,
 * its arguments parsed once, its app read from them and checked against the
 * user's role, apps and verbs once; it runs with the gateway's context; its
 * result is printed (JSON with --json); the outcome is recorded in the audit
 * log (over SSH and HTTP always, at the command line when the command used
 * the gateway) and becomes the exit status.
 */
export class Dispatcher {
  constructor(readonly options: DispatcherOptions) {}

  /** Looks up, parses and checks `argv` for `user`; a refusal is recorded in the audit log at once. */
  prepare(user: UserConfig, argv: readonly string[], extras: Pick<RunExtras, 'from' | 'line' | 'scopes'> = {}): Prepared {
    const { surface } = this.options;
    const refuse = (message: string, exitCode: number, refused: CommandOutcome['refused']): Prepared => {
      const outcome = { exitCode, refused };
      void this.audit(user, argv, outcome, extras);
      return { ok: false, outcome, message };
    };
    const [name, ...rest] = argv;
    if (name === undefined || name === 'help' || (surface === 'cli' && (name === '--help' || name === '-h'))) {
      return { ok: true, command: HELP, run: async (io) => (io.stdout.write(this.help(user)), { exitCode: surface === 'cli' && name === undefined ? 2 : 0 }) };
    }
    const mine = this.options.commands.filter((c) => c.surfaces.includes(surface));
    const command = mine.find((c) => c.name === `${name} ${rest[0]}`) ?? mine.find((c) => c.name === name);
    if (!command) {
      const verbs = mine.filter((c) => c.name.startsWith(`${name} `)).map((c) => c.name.slice(name.length + 1));
      if (verbs.length > 0) {
        const what = rest[0] === undefined ? 'missing verb' : `unknown verb ${JSON.stringify(rest[0])}`;
        const list = verbs.length > 1 ? `${verbs.slice(0, -1).join(', ')} or ${verbs.at(-1)}` : verbs[0]!;
        return refuse(`${name}: ${what}; use ${list}\n${verbs.map((v) => `  ${this.prompt} ${name} ${v}`).join('\n')}`, 2, 'usage');
      }
      return refuse(this.unknown(name, mine), EXIT_UNKNOWN_COMMAND, 'unknown');
    }
    const args = command.name.includes(' ') ? rest.slice(1) : rest;
    if (surface === 'cli' && args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
      return { ok: true, command, run: async (io) => (io.stdout.write(`usage: magrathea ${command.name} ${command.usage}\n${command.summary}\n`), { exitCode: 0 }) };
    }
    if (command.need === 'local' && surface !== 'cli') return refuse(this.unknown(name, mine), EXIT_UNKNOWN_COMMAND, 'unknown');
    let parsed: ParsedArgs;
    try {
      parsed = parseArgs(command.name, command.usage, args, surface === 'cli' ? { ...command.args, values: [...(command.args.values ?? []), 'config'] } : command.args);
    } catch (e) {
      return refuse((e as Error).message, 2, 'usage');
    }
    const app = command.app ? parsed.positionals[0]?.split('@')[0] : undefined;
    if (extras.scopes) {
      const scoped = scopeAllows(extras.scopes, command);
      if (!scoped.ok) return refuse(`magrathea: ${scoped.reason}`, 1, 'forbidden');
    }
    if (command.need !== 'local') {
      const access = authorize(user, command.need, app);
      if (!access.ok) return refuse(`magrathea: ${access.reason}`, 1, 'forbidden');
    }
    return { ok: true, command, run: (io, runExtras = {}) => this.execute(command, parsed, user, io, { ...extras, ...runExtras }, argv) };
  }

  /** prepare, then run: a refusal is one line on io.stderr. */
  async run(user: UserConfig, argv: readonly string[], io: CommandIO, extras: RunExtras = {}): Promise<Ran> {
    const prepared = this.prepare(user, argv, extras);
    if (prepared.ok) return prepared.run(io, extras);
    io.stderr.write(`${prepared.message}\n`);
    return prepared.outcome;
  }

  /** An entry for the audit log that is not a command (a push, a refused login), through the same log. */
  async record(entry: AuditEntry): Promise<void> {
    if (this.options.gateway) await recordAudit({ redis: this.options.gateway.redis.client, keys: this.options.gateway.keys }, entry).catch(() => undefined);
  }

  help(user: UserConfig): string {
    const mine = this.options.commands.filter((c) => c.surfaces.includes(this.options.surface) && (c.need === 'none' || c.need === 'local' || user.role === 'admin' || c.need !== 'admin'));
    if (this.options.surface === 'cli') {
      const width = Math.max(...mine.map((c) => c.name.length));
      return `usage: magrathea <command> [arguments]\n\ncommands:\n${mine.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}\n\n"magrathea <command> --help" shows a command's arguments; --config DIR names the gateway's configuration (default: $MAGRATHEA_CONFIG, else ./config).\n`;
    }
    return [
      'usage: ssh magrathea <command> [arguments]',
      '       git push magrathea <branch>        (remote: magrathea:APP)',
      '',
      'commands:',
      ...mine.map((c) => `  ${`${c.name} ${c.usage}`.padEnd(44)} ${c.summary}`),
      '',
      'Exit status: 0 success, 1 failure, 2 usage, 3 unknown command.',
      '',
    ].join('\n');
  }

  /**
   * The configuration as its files say now. In a running gateway, files that
   * no longer validate (a users.yml being edited) leave the last good
   * configuration in use, as the live users do: an edit in progress does not
   * stop every command; the gateway's log names the problem.
   */
  private async config(configDir: string): Promise<GatewayConfig> {
    const running = this.options.gateway;
    if (!running) return loadGatewayConfig(configDir);
    try {
      this.lastGood = await loadGatewayConfig(configDir);
    } catch {
      // Kept: the last configuration that validated.
    }
    return this.lastGood ?? running.config;
  }

  private lastGood?: GatewayConfig;

  private get prompt(): string {
    return this.options.surface === 'cli' ? 'magrathea' : 'ssh magrathea';
  }

  private unknown(name: string, mine: readonly Command[]): string {
    if (this.options.surface !== 'cli') return `magrathea: unknown command ${JSON.stringify(name)}; "ssh magrathea help" lists them`;
    const close = mine.filter((c) => c.name.startsWith(name.split(/[: ]/)[0]!)).map((c) => c.name);
    return `magrathea: unknown command ${JSON.stringify(name)}${close.length ? `; did you mean: ${close.join(', ')}?` : ''}\nRun "magrathea help" for the list.`;
  }

  private async execute(command: Command, parsed: ParsedArgs, user: UserConfig, io: CommandIO, extras: RunExtras, argv: readonly string[]): Promise<Ran> {
    const configDir = this.options.surface === 'cli' && parsed.values.config !== undefined ? parsed.values.config : this.options.configDir;
    let opened: Promise<GatewayContext> | undefined;
    const ctx: CommandContext = {
      user,
      surface: this.options.surface,
      io,
      configDir,
      config: () => this.config(configDir),
      gateway: () => (this.options.gateway ? Promise.resolve(this.options.gateway) : (opened ??= openGatewayContext(configDir))),
      may: (need: Need, app: string) => authorize(user, need, app).ok,
      commands: this.options.commands,
      ...(this.options.follows ? { follows: this.options.follows } : {}),
      ...(extras.ask ? { ask: extras.ask } : {}),
      ...(extras.session ? { session: extras.session } : {}),
      ...(extras.live ? { live: extras.live } : {}),
      ...(extras.events ? { events: extras.events } : {}),
    };
    const data = (result: unknown) => (command.json ? command.json(result) : result);
    const print = (result: unknown) => {
      if (extras.print === false) return;
      if (parsed.flags.has('json')) io.stdout.write(`${JSON.stringify(data(result), null, 2)}\n`);
      else if (command.text) io.stdout.write(command.text(result, parsed));
    };
    let ran: Ran;
    try {
      const result = await command.run(parsed, ctx);
      print(result);
      ran = typeof result === 'number' ? { exitCode: result, ...(result ? { refused: 'failed' as const } : {}) } : { exitCode: 0, result: data(result) };
    } catch (e) {
      if (e instanceof CommandFailure) print(e.result);
      if (e instanceof MagratheaError) {
        io.stderr.write(`${e.message}\n`);
        ran = { exitCode: e.exitStatus, refused: e.exitStatus === 2 ? 'usage' : e.code === 'forbidden' ? 'forbidden' : 'failed', code: e.code, ...(e instanceof CommandFailure ? { result: data(e.result) } : {}) };
      } else {
        io.stderr.write(`magrathea ${command.name}: unexpected error: ${this.options.surface === 'cli' ? ((e as Error).stack ?? String(e)) : (e as Error).message}\n`);
        ran = { exitCode: 1, refused: 'error' };
      }
    }
    // At the command line, what used the gateway is recorded in its log, before the context this run opened is closed.
    if (command.audited !== false && (this.options.surface !== 'cli' || opened)) await this.audit(user, argv, ran, extras, await opened?.catch(() => undefined));
    if (opened) await (await opened.catch(() => undefined))?.close();
    return ran;
  }

  private async audit(user: UserConfig, argv: readonly string[], outcome: CommandOutcome, extras: Pick<RunExtras, 'from' | 'line'>, gateway = this.options.gateway): Promise<void> {
    if (!gateway) return;
    const refused = refusalOf(outcome);
    const text = auditText(extras.line ?? argv);
    const command = this.options.surface === 'http' ? `api: ${text}` : this.options.surface === 'cli' ? `cli: ${text}` : text;
    const entry = { user: user.name, command, exitCode: outcome.exitCode, at: new Date().toISOString(), ...(extras.from ? { from: extras.from } : {}), ...(refused ? { refused } : {}) };
    await recordAudit({ redis: gateway.redis.client, keys: gateway.keys }, entry).catch(() => undefined);
  }
}

/** `help`: answered by the dispatcher itself. */
const HELP: Command = { name: 'help', summary: 'this list', usage: '', args: {}, need: 'none', surfaces: ['cli', 'ssh', 'http'], run: async () => undefined };
