/**
 * The hooks run in the hook's own process (hook.ts, without the gateway's
 * socket): the same commands through the same dispatcher as `magrathea`,
 * with a table of these two only, so that a push does not load every
 * other command (the SSH and HTTP servers, the lab) before it starts.
 */
import { configDir } from '../config/load.js';
import { postReceiveHook, preReceiveHook } from '../commands/push/hooks.js';
import { Dispatcher } from '../dispatch/dispatch.js';
import { localUser } from './local-user.js';

const dispatcher = new Dispatcher({ commands: [preReceiveHook, postReceiveHook], surface: 'cli', configDir: configDir() });
dispatcher.run(localUser(), ['hook', ...process.argv.slice(2)], { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }).then(
  (ran) => {
    process.exitCode = ran.exitCode;
  },
  (e) => {
    process.stderr.write(`magrathea hook: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
