import { UsageError } from '../core/errors.js';

export interface ArgSpec {
  /** Flags that take a value: `--config DIR`. */
  values?: readonly string[];
  /** Flags that stand alone: `--json`. */
  booleans?: readonly string[];
  /** How many positional arguments, at least and at most. */
  positionals?: [min: number, max: number];
}

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string>;
  flags: Set<string>;
}

/**
 * Strict argument parsing: an unknown flag, a missing value or a stray
 * argument is a UsageError naming it, never silently ignored.
 */
export function parseArgs(command: string, usage: string, args: readonly string[], spec: ArgSpec): ParsedArgs {
  const parsed: ParsedArgs = { positionals: [], values: {}, flags: new Set() };
  const fail = (message: string): never => {
    throw new UsageError(`${command}: ${message}\nusage: magrathea ${command} ${usage}`);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      parsed.positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith('--') || /^-[a-zA-Z]$/.test(arg)) {
      // Short options are one letter with one dash (-n 20, -f); long ones take --name VALUE or --name=VALUE.
      const [name, inline] = (arg.startsWith('--') ? arg.slice(2).split(/=(.*)/s, 2) : [arg.slice(1), undefined]) as [string, string | undefined];
      if (spec.values?.includes(name)) {
        const value = inline ?? args[++i];
        if (value === undefined || (inline === undefined && value.startsWith('--'))) fail(`${arg.startsWith('--') ? '--' : '-'}${name} needs a value`);
        if (name in parsed.values) fail(`--${name} given twice`);
        parsed.values[name] = value!;
      } else if (spec.booleans?.includes(name) && inline === undefined) {
        parsed.flags.add(name);
      } else {
        fail(`unknown option ${arg.split('=')[0]}`);
      }
    } else {
      parsed.positionals.push(arg);
    }
  }
  const [min, max] = spec.positionals ?? [0, 0];
  if (parsed.positionals.length < min) fail('missing argument');
  if (parsed.positionals.length > max) fail(`unexpected argument ${JSON.stringify(parsed.positionals[max])}`);
  return parsed;
}
