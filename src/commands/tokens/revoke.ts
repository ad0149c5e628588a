import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { revokeApiToken } from '../../state/api-tokens.js';

/** `tokens:revoke ID`: one of the user's own tokens stops working at once. */
export default defineCommand<{ revoked: string }>({
  name: 'tokens:revoke',
  summary: 'revoke one of your HTTP API tokens at once',
  usage: 'ID',
  args: { positionals: [1, 1] },
  need: 'none',
  surfaces: EVERYWHERE,
  async run(args, ctx) {
    const id = args.positionals[0]!;
    if (!(await revokeApiToken((await ctx.gateway()).state, ctx.user.name, id))) throw new UsageError(`tokens:revoke: you have no token ${id} (tokens:list shows yours)`);
    return { revoked: id };
  },
  text: (r) => `revoked ${r.revoked}\n`,
});
