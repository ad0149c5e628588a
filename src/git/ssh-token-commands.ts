import { parseArgs } from '../commands/args.js';
import { withGatewayContext } from '../gateway/context.js';
import { UsageError } from '../core/errors.js';
import { printable } from '../core/printable.js';
import { checkDuration, durationSeconds } from '../core/values.js';
import { createApiToken, listApiTokens, revokeApiToken, tokenExpired, type ApiToken } from '../state/api-tokens.js';
import type { SshCommand } from './ssh-command.js';

const CREATE_USAGE = '[--label TEXT] [--expires DURATION] [--json]';

/** The longest a token may live, and the shortest (at least a second: a token that expired as it was made is a typo). */
const MAX_EXPIRY_SECONDS = 10 * 365 * 86400;
const MIN_EXPIRY_SECONDS = 1;

/** When a token made at `now` with `--expires 30d` stops working. */
function expiry(text: string, now: Date): Date {
  const problem = checkDuration(text);
  if (problem) throw new UsageError(`tokens:create: --expires: ${problem}`);
  const seconds = durationSeconds(text);
  if (seconds < MIN_EXPIRY_SECONDS || seconds > MAX_EXPIRY_SECONDS) throw new UsageError(`tokens:create: --expires takes from 1s to 10y, not ${text}`);
  return new Date(now.getTime() + seconds * 1000);
}

/** `tokens:*`: each user's own tokens for the HTTP API, which acts as that user. */
export const TOKEN_COMMANDS: SshCommand[] = [
  {
    name: 'tokens:create',
    summary: 'a new HTTP API token, acting as you, until revoked or --expires (30d, 12h...) (shown once: keep it)',
    usage: CREATE_USAGE,
    need: 'none',
    app: () => undefined,
    async run(args, ctx) {
      const parsed = parseArgs('tokens:create', CREATE_USAGE, args, { values: ['label', 'expires'], booleans: ['json'], positionals: [0, 0] });
      const expiresAt = parsed.values.expires === undefined ? undefined : expiry(parsed.values.expires, new Date());
      const { token, record } = await withGatewayContext(ctx.configDir, (g) => createApiToken({ redis: g.redis.client, keys: g.keys }, ctx.user.name, parsed.values.label ?? '', expiresAt));
      const until = record.expiresAt ? `, until ${record.expiresAt}` : '';
      ctx.io.stdout.write(parsed.flags.has('json') ? `${JSON.stringify({ ...record, token })}\n` : `${token}\ntoken ${record.id} for ${record.user}${until}: send it as "Authorization: Bearer <token>"; it is not shown again\n`);
    },
  },
  {
    name: 'tokens:list',
    summary: 'your HTTP API tokens (ids, expiry and labels, never the tokens)',
    usage: '[--json]',
    need: 'none',
    app: () => undefined,
    async run(args, ctx) {
      const parsed = parseArgs('tokens:list', '[--json]', args, { booleans: ['json'], positionals: [0, 0] });
      const tokens = await withGatewayContext(ctx.configDir, (g) => listApiTokens({ redis: g.redis.client, keys: g.keys }, ctx.user.name));
      const now = new Date();
      const until = (t: ApiToken) => (t.expiresAt ? `${tokenExpired(t, now) ? 'expired ' : 'expires '}${t.expiresAt}` : 'no expiry').padEnd(32);
      ctx.io.stdout.write(parsed.flags.has('json') ? `${JSON.stringify(tokens)}\n` : tokens.map((t) => `${t.id}  ${t.createdAt}  ${until(t)}  ${printable(t.label)}\n`).join(''));
    },
  },
  {
    name: 'tokens:revoke',
    summary: 'revoke one of your HTTP API tokens at once',
    usage: 'ID',
    need: 'none',
    app: () => undefined,
    async run(args, ctx) {
      const [id] = parseArgs('tokens:revoke', 'ID', args, { positionals: [1, 1] }).positionals;
      const revoked = await withGatewayContext(ctx.configDir, (g) => revokeApiToken({ redis: g.redis.client, keys: g.keys }, ctx.user.name, id!));
      if (!revoked) throw new UsageError(`tokens:revoke: you have no token ${id} (tokens:list shows yours)`);
      ctx.io.stdout.write(`revoked ${id}\n`);
    },
  },
];
