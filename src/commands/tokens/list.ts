import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { printable } from '../../core/printable.js';
import { formatTable } from '../../core/table.js';
import { listApiTokens, tokenExpired, type ApiToken } from '../../state/api-tokens.js';

/** `tokens:list`: the user's own tokens, never the tokens themselves. */
export default defineCommand<ApiToken[]>({
  name: 'tokens:list',
  summary: 'your HTTP API tokens (ids, expiry, scopes and labels, never the tokens)',
  usage: '[--json]',
  args: { booleans: ['json'] },
  need: 'none',
  surfaces: EVERYWHERE,
  async run(_args, ctx) {
    return listApiTokens((await ctx.gateway()).state, ctx.user.name);
  },
  text: (tokens) => {
    const now = new Date();
    const until = (t: ApiToken) => (t.expiresAt ? `${tokenExpired(t, now) ? 'expired ' : 'expires '}${t.expiresAt}` : 'no expiry');
    return formatTable(tokens.map((t) => [t.id, t.createdAt, until(t), printable(t.label), t.scopes ? `scoped to ${t.scopes.join(',')}` : 'unscoped']));
  },
});
