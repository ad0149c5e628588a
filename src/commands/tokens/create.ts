import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { parseScopes, type Scope } from '../../core/access.js';
import type { UserConfig } from '../../core/config/types.js';
import { checkDuration, durationSeconds } from '../../core/values.js';
import { createApiToken, type ApiToken } from '../../state/api-tokens.js';

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

/** `--scope deploy,releases`, each scope one the user has (a member: read, and the verbs users.yml gives them). */
function scopesFor(user: UserConfig, text: string): Scope[] {
  const scopes = parseScopes(text);
  if ('error' in scopes) throw new UsageError(`tokens:create: --scope: ${scopes.error}`);
  const missing = user.role === 'admin' ? [] : scopes.filter((s) => s === 'admin' || (s !== 'read' && !user.verbs.includes(s)));
  if (missing.length > 0) throw new UsageError(`tokens:create: --scope ${missing.join(', ')}: ${user.name} may not ${missing.join(' or ')} (users.yml)`);
  return scopes;
}

/** `tokens:create`: a token for the HTTP API, acting as the user who made it; shown once. */
export default defineCommand<ApiToken & { token: string }>({
  name: 'tokens:create',
  summary: 'a new HTTP API token, acting as you, until revoked or --expires (30d, 12h...) (shown once: keep it)',
  usage: '[--label TEXT] [--expires DURATION] [--scope SCOPE,...] [--json]',
  args: { values: ['label', 'expires', 'scope'], booleans: ['json'] },
  need: 'none',
  surfaces: EVERYWHERE,
  async run(args, ctx) {
    const expiresAt = args.values.expires === undefined ? undefined : expiry(args.values.expires, new Date());
    const scopes = args.values.scope === undefined ? undefined : scopesFor(ctx.user, args.values.scope);
    const { token, record } = await createApiToken((await ctx.gateway()).state, ctx.user.name, args.values.label ?? '', expiresAt, scopes);
    return { ...record, token };
  },
  text: (t) => `${t.token}\ntoken ${t.id} for ${t.user}${t.scopes ? `, scoped to ${t.scopes.join(', ')}` : ''}${t.expiresAt ? `, until ${t.expiresAt}` : ''}: send it as "Authorization: Bearer <token>"; it is not shown again\n`,
});
