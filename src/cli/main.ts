#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MagratheaError } from '../core/errors.js';
import { commands } from '../commands/index.js';
import type { CommandIO } from '../commands/types.js';

/** Exit status for an unknown command, distinct from failures (1) and usage errors (2). */
export const EXIT_UNKNOWN_COMMAND = 3;

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(helpText());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    const close = commands.filter((c) => c.name.startsWith(name.split(/[: ]/)[0]!)).map((c) => c.name);
    io.stderr.write(`magrathea: unknown command ${JSON.stringify(name)}${close.length ? `; did you mean: ${close.join(', ')}?` : ''}\nRun "magrathea help" for the list.\n`);
    return EXIT_UNKNOWN_COMMAND;
  }
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    io.stdout.write(`usage: magrathea ${command.name} ${command.usage}\n${command.summary}\n`);
    return 0;
  }
  try {
    await command.run(args, io);
    return 0;
  } catch (e) {
    if (e instanceof MagratheaError) {
      io.stderr.write(`${e.message}\n`);
      return e.exitStatus;
    }
    io.stderr.write(`magrathea ${name}: unexpected error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

function helpText(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `usage: magrathea <command> [arguments]\n\ncommands:\n${lines.join('\n')}\n\n"magrathea <command> --help" shows a command's arguments.\n`;
}

// The one place that sets the process's exit status.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }).then(
    (status) => {
      process.exitCode = status;
    },
    (e) => {
      process.stderr.write(`magrathea: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
