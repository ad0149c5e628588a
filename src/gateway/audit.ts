import { parseCommandLine } from '../core/command-line.js';
import { printable } from '../core/printable.js';

/** What the audit log keeps of a command or push; recorded and read in src/state/audit.ts. */
export type { AuditEntry } from '../state/audit.js';

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
