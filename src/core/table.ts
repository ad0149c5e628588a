/**
 * Rows as aligned columns, two spaces apart, one line each with its
 * newline, no trailing blanks. Columns are left-aligned, except those
 * listed in `right` (numbers); the last column is not padded.
 */
export function formatTable(rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  const cell = (text: string, c: number, last: boolean) => (right.includes(c) ? text.padStart(widths[c]!) : last ? text : text.padEnd(widths[c]!));
  return rows.map((row) => `${row.map((text, c) => cell(text, c, c === row.length - 1)).join('  ').trimEnd()}\n`).join('');
}
