import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { formatTable } from '../../core/table.js';
import { readAudit, type AuditEntry } from '../../state/audit.js';

/** `audit`: who did what, when, from where, with which outcome; newest first. */
export default defineCommand<AuditEntry[]>({
  name: 'audit',
  summary: 'who did what, when, with which outcome, newest first (admins)',
  usage: '[-n N] [--json]',
  args: { values: ['n'], booleans: ['json'] },
  need: 'admin',
  surfaces: EVERYWHERE,
  async run(args, ctx) {
    const count = Number(args.values.n ?? 50);
    if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new UsageError('audit: -n takes a number from 1 to 10000');
    return readAudit((await ctx.gateway()).state, count);
  },
  // readAudit escaped every field: nothing a client typed reaches this terminal raw.
  text: (entries) => formatTable(entries.map((e) => [e.at, e.user, `exit ${e.exitCode}`, e.from ?? '-', `${e.command}${e.refused ? `  [refused: ${e.refused}]` : ''}`])),
});
