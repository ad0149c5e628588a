/**
 * What db:import does to a dump before the instance's user runs it: the
 * lines that would leave its database or need another user's rights are
 * dropped or rewritten, and the input must look like a dump at all. Lines
 * are given as latin1 strings (one character per byte: nothing is lost,
 * whatever the dump's encoding); only a line's first bytes are looked at,
 * except for the definer of a DDL line.
 */

/** Why a line was dropped. */
export type DroppedLine = 'create-database' | 'use' | 'drop-database' | 'server-variable';

/** `continues`: the statement goes on over the next lines, up to the one that ends with `;`: drop those too. */
export type DumpLineAction = { action: 'keep' } | { action: 'drop'; kind: DroppedLine; continues?: boolean } | { action: 'rewrite'; line: string };

/** The longest line filterDumpLine is given whole: DDL lines are short; an INSERT line of megabytes passes untouched. */
export const MAX_DDL_LINE = 64 * 1024;

/** A statement that names a database on one line: `CREATE DATABASE x ...;`, `USE x;`, `DROP DATABASE x;` (in versioned comments or not). */
const DATABASE_LINE: readonly [RegExp, DroppedLine][] = [
  [/^\s*(\/\*!\d*\s*)?CREATE\s+(DATABASE|SCHEMA)\b.*;\s*$/i, 'create-database'],
  [/^\s*(\/\*!\d*\s*)?DROP\s+(DATABASE|SCHEMA)\b.*;\s*$/i, 'drop-database'],
  [/^\s*USE\s+\S.*;\s*$/i, 'use'],
];

/**
 * The server's replication settings that MySQL's mysqldump writes with GTIDs on (SQL_LOG_BIN
 * turned off and back, GTID_PURGED), and MariaDB's gtid_slave_pos: they need SUPER, which
 * the instance's user does not have, and say nothing about the data.
 */
const SERVER_VARIABLE = /^\s*SET\s+(@@(GLOBAL|SESSION)\.|GLOBAL\s+|SESSION\s+)?(SQL_LOG_BIN|GTID_PURGED|GTID_SLAVE_POS)\s*=/i;

/** `DEFINER=user@host` as dumps write it (quoted or not; CURRENT_USER), with the blank after it. */
const DEFINER = /DEFINER\s*=\s*(`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'|[A-Za-z0-9_$.-]+|CURRENT_USER(?:\(\))?)(\s*@\s*(`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'|[A-Za-z0-9_$.%-]+))?\s?/g;

/**
 * One line of a dump (without its newline): kept, dropped (a database's
 * CREATE, DROP or USE: the instance's user works in its own database only),
 * or rewritten without its DEFINER clauses (a view, trigger, routine or
 * event then belongs to whoever imports it).
 */
export function filterDumpLine(line: string): DumpLineAction {
  const start = line.slice(0, 16).trimStart().toUpperCase();
  if (!/^(CREATE|DROP|USE|SET|\/\*!)/.test(start)) return { action: 'keep' };
  // A GTID set of several servers spans lines: the statement ends at the line that ends with `;`.
  if (SERVER_VARIABLE.test(line)) return { action: 'drop', kind: 'server-variable', ...(/;\s*$/.test(line) ? {} : { continues: true }) };
  if (line.length <= MAX_DDL_LINE) {
    for (const [pattern, kind] of DATABASE_LINE) if (pattern.test(line)) return { action: 'drop', kind };
    if (/DEFINER/i.test(line) && !/^\/\*!\d*\s*INSERT/i.test(start)) {
      const rewritten = line.replace(DEFINER, '');
      if (rewritten !== line) return { action: 'rewrite', line: rewritten };
    }
  }
  return { action: 'keep' };
}

/** What starts a dump's first statement (mariadb-dump, mysqldump, phpMyAdmin, Adminer, a hand-written one). */
const FIRST_STATEMENT = /^(\/\*M?!\d*|SET|DROP|CREATE|INSERT|REPLACE|LOCK|UNLOCK|USE|DELIMITER|START\s+TRANSACTION|BEGIN|ALTER|COMMIT)\b/i;

/**
 * Reads a dump's first lines until its first statement: `undefined` while
 * only blank lines and comments came, then `ok` or why the input is not a
 * dump. Give it the lines in order; `inComment` carries a `/* ... *\/` over
 * lines.
 */
export class DumpHead {
  private inComment = false;
  verdict?: { ok: true } | { ok: false; problem: string };

  line(line: string): void {
    if (this.verdict) return;
    let text = line;
    for (;;) {
      if (this.inComment) {
        const end = text.indexOf('*/');
        if (end < 0) return;
        this.inComment = false;
        text = text.slice(end + 2);
      }
      text = text.trimStart();
      if (text === '' || text.startsWith('--') || text.startsWith('#')) return;
      if (text.startsWith('/*') && !/^\/\*M?!/.test(text)) {
        this.inComment = true;
        text = text.slice(2);
        continue;
      }
      break;
    }
    this.verdict = FIRST_STATEMENT.test(text) ? { ok: true } : { ok: false, problem: `it does not begin like an SQL dump: ${preview(text)}` };
  }

  /** The verdict at the end of the input. */
  end(): { ok: true } | { ok: false; problem: string } {
    return this.verdict ?? { ok: false, problem: 'it holds no SQL statement' };
  }
}

/** The first bytes of a line as a person can read them: printable ASCII as is, the rest as \xNN. */
export function preview(text: string, max = 24): string {
  const shown = [...text.slice(0, max)].map((c) => (c >= ' ' && c <= '~' ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)).join('');
  return `"${shown}${text.length > max ? '...' : ''}"`;
}

/** What the filter did, for the line on stderr. */
export interface DumpFilterCounts {
  dropped: Record<DroppedLine, number>;
  definers: number;
}

/** `a dump of another database: 1 USE line dropped, 2 DEFINER clauses removed`; empty when nothing was changed. */
export function describeFilter(counts: DumpFilterCounts): string {
  const parts: string[] = [];
  const n = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;
  if (counts.dropped['create-database'] > 0) parts.push(`${n(counts.dropped['create-database'], 'CREATE DATABASE line', 'CREATE DATABASE lines')} dropped`);
  if (counts.dropped['drop-database'] > 0) parts.push(`${n(counts.dropped['drop-database'], 'DROP DATABASE line', 'DROP DATABASE lines')} dropped`);
  if (counts.dropped.use > 0) parts.push(`${n(counts.dropped.use, 'USE line', 'USE lines')} dropped`);
  if (counts.definers > 0) parts.push(`${n(counts.definers, 'line', 'lines')} rewritten without DEFINER`);
  if (counts.dropped['server-variable'] > 0) parts.push(`${n(counts.dropped['server-variable'], 'replication setting', 'replication settings')} (SQL_LOG_BIN, GTID_PURGED) dropped`);
  if (parts.length === 0) return '';
  const other = counts.dropped['create-database'] + counts.dropped['drop-database'] + counts.dropped.use > 0;
  return `${other ? 'a dump naming a database: ' : ''}${parts.join(', ')}`;
}
