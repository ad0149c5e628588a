/**
 * Quotes an argv for the remote shell that ssh hands its command line to:
 * each argument in single quotes, a single quote itself as '\''. The
 * remote shell then passes the arguments exactly as given.
 */
export function quoteForShell(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
