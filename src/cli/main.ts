#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configDir } from '../config/load.js';
import { COMMANDS } from '../commands/table.js';
import type { CommandIO } from '../dispatch/command.js';
import { Dispatcher, EXIT_UNKNOWN_COMMAND } from '../dispatch/dispatch.js';
import { localUser } from './local-user.js';

export { EXIT_UNKNOWN_COMMAND };

/** `magrathea <argv>`: the command line, one surface of the command table. */
export async function main(argv: string[], io: CommandIO): Promise<number> {
  const dispatcher = new Dispatcher({ commands: COMMANDS, surface: 'cli', configDir: configDir() });
  return (await dispatcher.run(localUser(), argv, io)).exitCode;
}

// The one place that sets the process's exit status.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }).then(
    (status) => {
      process.exitCode = status;
    },
    (e) => {
      process.stderr.write(`magrathea: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
