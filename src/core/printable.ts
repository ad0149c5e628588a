/**
 * Text that is safe to show on a terminal: control characters (C0, DEL,
 * C1, which hold ESC and CSI), line and paragraph separators and the
 * bidirectional overrides are written as escapes, and so is the backslash,
 * so that an escape typed by a user cannot pass for one written here. A
 * command line someone typed can then neither move the cursor, recolour,
 * clear or retitle an admin's terminal, nor hide or reorder what it shows.
 */
export function printable(text: string): string {
  return text.replace(/[\\\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, (c) => {
    if (c === '\\') return '\\\\';
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    if (named[c]) return named[c]!;
    const code = c.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** Whether printable() would change more than backslashes: text not escaped yet. */
export function hasUnprintable(text: string): boolean {
  return UNPRINTABLE.test(text);
}
