#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configDir } from '../config/load.js';
import { COMMANDS } from '../commands/table.js';
import type { CommandIO } from '../dispatch/command.js';
import { Dispatcher, EXIT_UNKNOWN_COMMAND } from '../dispatch/dispatch.js';
import { localUser } from './local-user.js';
import { appFromRemote, readLogin, runRemote, withApp } from '../client/remote.js';

export { EXIT_UNKNOWN_COMMAND };

/**
 * `magrathea <argv>`: the command line, one surface of the command table.
 * Logged in to a gateway (`magrathea login URL`) and not given a gateway
 * configuration (--config, MAGRATHEA_CONFIG), the commands the HTTP API
 * runs are sent there (client/remote.ts); the others run here.
 */
export async function main(argv: string[], io: CommandIO): Promise<number> {
  const remote = await remoteCommand(argv, io);
  if (remote) return remote();
  const dispatcher = new Dispatcher({ commands: COMMANDS, surface: 'cli', configDir: configDir() });
  return (await dispatcher.run(localUser(), argv, io)).exitCode;
}

/** How to run argv on the gateway logged in to, or undefined when it runs here. */
async function remoteCommand(argv: readonly string[], io: CommandIO): Promise<(() => Promise<number>) | undefined> {
  if (argv.some((a) => a === '--config' || a.startsWith('--config=')) || process.env.MAGRATHEA_CONFIG) return undefined;
  const [name, verb] = argv;
  const command = COMMANDS.find((c) => c.name === `${name} ${verb}`) ?? COMMANDS.find((c) => c.name === name);
  // help, and any command unknown here, are the gateway's to answer; the command line's own stay here.
  if (command && !command.surfaces.includes('http') && !command.surfaces.includes('ssh')) return undefined;
  let login;
  try {
    login = await readLogin();
  } catch (e) {
    return async () => (io.stderr.write(`magrathea: ${(e as Error).message}\n`), 1);
  }
  if (!login) return undefined;
  const sent = command ? withApp(command, argv, await appFromRemote(io.cwd, login.url)) : [...argv];
  if (sent.length === 0) sent.push('help');
  // A terminal (shell, db:shell) or bytes (db:export, db:import): SSH only.
  if (command && !command.surfaces.includes('http')) return async () => (io.stderr.write(`magrathea ${command.name}: runs over SSH only: ssh magrathea ${sent.join(' ')}\n`), 2);
  return () => runRemote(login, sent, io);
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
