import { basename, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { defineCommand, type CommandContext } from '../../dispatch/command.js';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { checkName } from '../../core/values.js';
import { pushToken } from '../../push/push-token.js';
import { postReceive, preReceive, Rejection, type Push } from '../../push/receive.js';

/**
 * The git hooks of every app repository (see push/repos.ts), run by
 * git-receive-pack during a push. Everything they print reaches the pusher
 * as `remote:` lines; a non-zero exit of pre-receive rejects the push and
 * no branch moves.
 */
function push(ctx: CommandContext): Push {
  const gitDir = resolve(process.env.GIT_DIR ?? '.');
  const app = basename(gitDir, '.git');
  if (checkName(app) !== undefined) throw new UsageError('magrathea hook: run by git in an app repository');
  const count = Number(process.env.GIT_PUSH_OPTION_COUNT ?? 0);
  return {
    app,
    gitDir,
    // Both hooks are children of the same git-receive-pack: its PID ties the pre-receive's lock to the post-receive.
    token: pushToken(process.ppid),
    pusher: process.env.MAGRATHEA_USER || 'unknown',
    options: Array.from({ length: count }, (_, i) => process.env[`GIT_PUSH_OPTION_${i}`] ?? ''),
    say: (line) => void ctx.io.stderr.write(`${line}\n`),
  };
}

/** What both hooks are: run by git at the command line, recorded as the push by the SSH server. */
const HOOK = { usage: '', args: {}, need: 'local', surfaces: ['cli'], audited: false } as const;

export const preReceiveHook = defineCommand<void>({
  ...HOOK,
  name: 'hook pre-receive',
  summary: 'run by git in an app repository during a push: validate, deploy, reject the push on failure',
  async run(_args, ctx) {
    try {
      const updates = (await readAll(ctx.io.stdin)).split('\n').filter(Boolean).map((l) => l.split(' '));
      await preReceive(await ctx.gateway(), push(ctx), updates);
    } catch (e) {
      const message = e instanceof Rejection ? e.message : `magrathea: ${e instanceof MagratheaError ? e.message : ((e as Error).stack ?? String(e))}`;
      throw new MagratheaError(`${message}\npush rejected: nothing changed`, 'push-rejected');
    }
  },
});

export const postReceiveHook = defineCommand<void>({
  ...HOOK,
  name: 'hook post-receive',
  summary: 'run by git in an app repository once a push moved its branches: frees the push locks',
  async run(_args, ctx) {
    await postReceive(await ctx.gateway(), push(ctx));
  },
});

async function readAll(input: Readable | undefined): Promise<string> {
  if (!input) return '';
  let data = '';
  for await (const chunk of input) data += String(chunk);
  return data;
}
