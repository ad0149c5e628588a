import { basename, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { defineCommand, type CommandContext } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { checkName } from '../../core/values.js';
import { hookPush, runHook, type HookName } from '../../push/receive.js';

/**
 * The git hooks of every app repository (see push/repos.ts), run by
 * git-receive-pack during a push, here in the hook's own process: for a
 * push into the repository without the gateway's SSH server (which runs
 * them itself: push/hook-server.ts). Everything they print reaches the
 * pusher as `remote:` lines; a non-zero exit of pre-receive rejects the
 * push and no branch moves.
 */
async function runHere(hook: HookName, ctx: CommandContext): Promise<number> {
  const gitDir = resolve(process.env.GIT_DIR ?? '.');
  const app = basename(gitDir, '.git');
  if (checkName(app) !== undefined) throw new UsageError('magrathea hook: run by git in an app repository');
  // Both hooks are children of the same git-receive-pack: its PID ties the pre-receive's lock to the post-receive.
  const push = hookPush({ app, gitDir, pusher: process.env.MAGRATHEA_USER || 'unknown', receivePackPid: process.ppid, env: process.env, say: (line) => void ctx.io.stderr.write(`${line}\n`) });
  return runHook(await ctx.gateway(), hook, push, hook === 'pre-receive' ? await readAll(ctx.io.stdin) : '');
}

/** What both hooks are: run by git at the command line, recorded as the push by the SSH server. */
const HOOK = { usage: '', args: {}, need: 'local', surfaces: ['cli'], audited: false } as const;

export const preReceiveHook = defineCommand<number>({
  ...HOOK,
  name: 'hook pre-receive',
  summary: 'run by git in an app repository during a push: validate, deploy, reject the push on failure',
  run: (_args, ctx) => runHere('pre-receive', ctx),
});

export const postReceiveHook = defineCommand<number>({
  ...HOOK,
  name: 'hook post-receive',
  summary: 'run by git in an app repository once a push moved its branches: frees the push locks',
  run: (_args, ctx) => runHere('post-receive', ctx),
});

async function readAll(input: Readable | undefined): Promise<string> {
  if (!input) return '';
  let data = '';
  for await (const chunk of input) data += String(chunk);
  return data;
}
