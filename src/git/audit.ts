import type { RedisContext } from '../adapters/redis.js';
import { parseCommandLine } from '../core/command-line.js';

/** One command or push, once it ended. */
export interface AuditEntry {
  user: string;
  command: string;
  exitCode: number;
  at: string;
}

/** Entries kept, about; older ones are trimmed as new ones come. */
const KEEP = 100_000;

export async function recordAudit({ redis, keys }: RedisContext, entry: AuditEntry): Promise<void> {
  await redis.xadd(keys.audit(), 'MAXLEN', '~', KEEP, '*', 'user', entry.user, 'command', entry.command, 'exitCode', String(entry.exitCode), 'at', entry.at);
}

/** The newest entries first. */
export async function readAudit({ redis, keys }: RedisContext, count: number): Promise<AuditEntry[]> {
  const entries = await redis.xrevrange(keys.audit(), '+', '-', 'COUNT', count);
  return entries.map(([, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    return { user: f.user ?? '', command: f.command ?? '', exitCode: Number(f.exitCode), at: f.at ?? '' };
  });
}

/**
 * A command as the audit log keeps it: at most 500 characters, and the
 * values of `config:set` masked (config vars are secrets; the log says who
 * set which, not to what).
 */
export function auditText(command: string | readonly string[]): string {
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
