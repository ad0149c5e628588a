import { parseArgs } from '../commands/args.js';
import { withGatewayContext } from '../commands/gateway-context.js';
import { UsageError } from '../core/errors.js';
import { createApiToken, listApiTokens, revokeApiToken } from '../state/api-tokens.js';
import type { SshCommand } from './ssh-command.js';

/** `tokens:*`: each user's own tokens for the HTTP API, which acts as that user. */
export const TOKEN_COMMANDS: SshCommand[] = [
  {
    name: 'tokens:create',
    summary: 'a new HTTP API token, acting as you (shown once: keep it)',
    usage: '[--label TEXT] [--json]',
    need: 'none',
    app: () => undefined,
    async run(args, ctx) {
      const parsed = parseArgs('tokens:create', '[--label TEXT] [--json]', args, { values: ['label'], booleans: ['json'], positionals: [0, 0] });
      const { token, record } = await withGatewayContext(ctx.configDir, (g) => createApiToken({ redis: g.redis.client, keys: g.keys }, ctx.user.name, parsed.values.label ?? ''));
      ctx.io.stdout.write(parsed.flags.has('json') ? `${JSON.stringify({ ...record, token })}\n` : `${token}\ntoken ${record.id} for ${record.user}: send it as "Authorization: Bearer <token>"; it is not shown again\n`);
    },
  },
  {
    name: 'tokens:list',
    summary: 'your HTTP API tokens (ids and labels, never the tokens)',
    usage: '[--json]',
    need: 'none',
    app: () => undefined,
    async run(args, ctx) {
      const parsed = parseArgs('tokens:list', '[--json]', args, { booleans: ['json'], positionals: [0, 0] });
      const tokens = await withGatewayContext(ctx.configDir, (g) => listApiTokens({ redis: g.redis.client, keys: g.keys }, ctx.user.name));
      ctx.io.stdout.write(parsed.flags.has('json') ? `${JSON.stringify(tokens)}\n` : tokens.map((t) => `${t.id}  ${t.createdAt}  ${t.label}\n`).join(''));
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
