/** Options of the SSH commands that take a value: their value is never the app. */
const VALUE_OPTIONS = new Set(['--env', '--confirm', '--cluster', '--type', '--to', '--since', '-n']);

/**
 * The app a command line acts on, for access control: its first positional
 * argument (`app` of `app@cluster`), read the way the command's own strict
 * parsing reads it, so that no option value (`--env shop-eu`) stands in for it.
 */
export function appArgument(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return args[i + 1]?.split('@')[0];
    if (arg.startsWith('-')) {
      if (VALUE_OPTIONS.has(arg)) i++;
      continue;
    }
    return arg.split('@')[0];
  }
  return undefined;
}
