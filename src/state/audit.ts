import type { RedisContext } from './redis.js';
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
