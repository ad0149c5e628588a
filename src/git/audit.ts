import type { RedisContext } from '../adapters/redis.js';

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
