/**
 * Splits the command line an SSH client sent (`ssh magrathea config:set app
 * "KEY='a b'"` arrives as one string) into argv, strictly: words of plain
 * characters, or quoted ('...' taken literally, "..." without escapes).
 * Anything a shell would interpret ($, `, ;, |, &, <, >, \, newline...)
 * outside quotes is refused, never passed on.
 */
export type CommandLine = { argv: string[] } | { error: string };

const PLAIN = /[A-Za-z0-9@%:._/=+,*?-]/;
const MAX = 4096;

export function parseCommandLine(line: string): CommandLine {
  if (line.length > MAX) return { error: `command line too long (${line.length} characters; at most ${MAX})` };
  const argv: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (word !== undefined) argv.push(word);
      word = undefined;
    } else if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) return { error: `unclosed ${c} in the command line` };
      const quoted = line.slice(i + 1, end);
      if (/[\u0000-\u001f\u007f]/.test(quoted) || (c === '"' && quoted.includes('\\'))) {
        return { error: 'control characters (and backslashes in double quotes) are not allowed in the command line' };
      }
      word = (word ?? '') + quoted;
      i = end;
    } else if (PLAIN.test(c)) {
      word = (word ?? '') + c;
    } else {
      return { error: `character ${JSON.stringify(c)} is not allowed in a command line outside quotes` };
    }
  }
  if (word !== undefined) argv.push(word);
  return { argv };
}
