import type { RedisContext } from './redis.js';
import { parseCommandLine } from '../core/command-line.js';
import { hasUnprintable, printable } from '../core/printable.js';

/**
 * One command or push, once it ended; or an attempt the gateway refused (a
 * login with an unknown key, a request without a valid token, a command
 * the user may not run), so that probing shows up as well as use.
 */
export interface AuditEntry {
  /** The user, or `-` when nobody could be identified (an unknown key, no token). */
  user: string;
  command: string;
  exitCode: number;
  at: string;
  /** Where it came from: the client's address and port. */
  from?: string;
  /** Why it was refused: `forbidden`, `unknown-command`, `unknown-key`, `no-token`, `expired-token`, a limit's name... */
  refused?: string;
}

/** Entries kept, about; older ones are trimmed as new ones come. */
const KEEP = 100_000;

/**
 * Every text field reaches the log escaped (printable): what a client sent
 * is stored inert. The command comes escaped from auditText already, and
 * is escaped here only if it holds something raw (escaping twice would
 * double its backslashes).
 */
export async function recordAudit({ redis, keys }: RedisContext, entry: AuditEntry): Promise<void> {
  const optional = [...(entry.from === undefined ? [] : ['from', shown(entry.from)]), ...(entry.refused === undefined ? [] : ['refused', shown(entry.refused)])];
  await redis.xadd(keys.audit(), 'MAXLEN', '~', KEEP, '*', 'user', shown(entry.user), 'command', shown(entry.command), 'exitCode', String(entry.exitCode), 'at', shown(entry.at), ...optional);
}

/**
 * The newest entries first, each text escaped again for display: entries
 * written before escaping existed, or by another writer, are shown inert too.
 */
export async function readAudit({ redis, keys }: RedisContext, count: number): Promise<AuditEntry[]> {
  const entries = await redis.xrevrange(keys.audit(), '+', '-', 'COUNT', count);
  return entries.map(([, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    return {
      user: shown(f.user ?? ''),
      command: shown(f.command ?? ''),
      exitCode: Number(f.exitCode),
      at: shown(f.at ?? ''),
      ...(f.from === undefined ? {} : { from: shown(f.from) }),
      ...(f.refused === undefined ? {} : { refused: shown(f.refused) }),
    };
  });
}

/** Text escaped already is kept as it is (escaping it again would double its backslashes); anything raw is escaped. */
function shown(text: string): string {
  return hasUnprintable(text) ? printable(text) : text;
}

/**
 * A command as the audit log keeps it: at most 500 characters, the values
 * of `config:set` masked (config vars are secrets; the log says who set
 * which, not to what), control characters escaped (printable).
 */
export function auditText(command: string | readonly string[]): string {
  return printable(maskedText(command));
}

function maskedText(command: string | readonly string[]): string {
  const argv = typeof command === 'string' ? (() => {
    const parsed = parseCommandLine(command);
    return 'error' in parsed ? undefined : parsed.argv;
  })() : command;
  const text = typeof command === 'string' ? command : command.join(' ');
  // A config:set line that does not parse (it was refused) may still hold a secret: only its length is kept.
  if (!argv) return /^\s*config:set\b/.test(text) ? `config:set (a line that does not parse, ${text.length} characters)` : text.slice(0, 500);
  if (argv[0] !== 'config:set') return text.slice(0, 500);
  return argv.map((a, i) => (i > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(a) ? `${a.slice(0, a.indexOf('='))}=********` : a)).join(' ').slice(0, 500);
}
