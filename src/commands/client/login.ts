import type { Readable } from 'node:stream';
import { readLogin, removeLogin, runRemote, writeLogin, checkGatewayUrl } from '../../client/remote.js';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { defineCommand } from '../../dispatch/command.js';
import { writable } from '../../lib/lines.js';

/** The first line of `input` (the token, piped or typed), at most 4 KiB. */
async function firstLine(input: Readable | undefined): Promise<string> {
  if (!input) return '';
  let text = '';
  for await (const chunk of input) {
    text += String(chunk);
    if (text.includes('\n') || text.length > 4096) break;
  }
  return text.split('\n')[0]!.trim();
}

/** `magrathea login URL`: the token read from stdin, checked against the gateway, kept for this user's commands. */
export const login = defineCommand<{ url: string; user: string; file: string }>({
  name: 'login',
  summary: 'sends this machine\'s commands to the gateway at URL, as the token read from stdin (ssh magrathea tokens:create)',
  usage: 'URL',
  args: { positionals: [1, 1] },
  need: 'local',
  surfaces: ['cli'],
  async run(args, ctx) {
    const url = checkGatewayUrl(args.positionals[0]!);
    if (typeof url !== 'string') throw new UsageError(`login: ${url.error}`);
    if (process.stdin.isTTY) ctx.io.stderr.write('token (ssh magrathea tokens:create): ');
    const token = await firstLine(ctx.io.stdin);
    if (!/^mg_[A-Za-z0-9_-]{43}$/.test(token)) throw new UsageError('login: give the token on stdin (mg_ and 43 characters: ssh magrathea tokens:create prints one)');
    let said = '';
    const status = await runRemote({ url, token }, ['whoami', '--json'], { stdout: writable((d) => void (said += String(d))), stderr: writable((d) => void (said += String(d))), cwd: ctx.io.cwd });
    if (status !== 0) throw new MagratheaError(`login: ${said.trim() || `the gateway at ${url} refused the token`}; nothing kept`, 'login-refused');
    const user = (JSON.parse(said) as { user: string }).user;
    return { url, user, file: await writeLogin({ url, token }) };
  },
  text: (r) => `logged in to ${r.url} as ${r.user} (kept in ${r.file}, readable by you only)\n`,
});

export const logout = defineCommand<{ url?: string }>({
  name: 'logout',
  summary: 'forgets the gateway and token that login kept (revoke the token on the gateway too: tokens:revoke)',
  usage: '',
  args: {},
  need: 'local',
  surfaces: ['cli'],
  async run() {
    const kept = await readLogin().catch(() => undefined);
    await removeLogin();
    return kept ? { url: kept.url } : {};
  },
  text: (r) => (r.url ? `logged out of ${r.url}\n` : 'not logged in\n'),
});
