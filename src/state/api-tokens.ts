import { createHash, randomBytes } from 'node:crypto';
import type { RedisContext } from './redis.js';
import { MagratheaError } from '../core/errors.js';
import type { Scope } from '../core/access.js';

/** What the gateway keeps of an HTTP API token: never the token, only its SHA-256. */
export interface ApiToken {
  /** Short, shown by `tokens:list`, given to `tokens:revoke`. */
  id: string;
  user: string;
  label: string;
  createdAt: string;
  /** When it stops working (ISO 8601); none: until revoked. */
  expiresAt?: string;
  /** The only commands it may run, by what they need (tokens:create --scope); none: whatever its user may. */
  scopes?: Scope[];
}

/** Whether the token has expired at `now`. */
export function tokenExpired(token: ApiToken, now: Date): boolean {
  return token.expiresAt !== undefined && Date.parse(token.expiresAt) <= now.getTime();
}

const TOKEN = /^mg_[A-Za-z0-9_-]{43}$/;

function digestOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new token for `user`: returned once, stored only as its digest. `expiresAt`: when it stops working; none: until revoked. `scopes`: none, unscoped. */
export async function createApiToken({ redis, keys }: RedisContext, user: string, label: string, expiresAt?: Date, scopes?: Scope[]): Promise<{ token: string; record: ApiToken }> {
  if (!/^[\x20-\x7e]{0,100}$/.test(label)) throw new MagratheaError('tokens:create: --label takes up to 100 printable ASCII characters', 'invalid-input', 2);
  const token = `mg_${randomBytes(32).toString('base64url')}`;
  const digest = digestOf(token);
  const record: ApiToken = { id: digest.slice(0, 12), user, label, createdAt: new Date().toISOString(), ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}), ...(scopes ? { scopes } : {}) };
  const results = await redis.multi().set(keys.apiToken(digest), JSON.stringify(record)).hset(keys.apiTokens(user), record.id, digest).exec();
  for (const [err] of results ?? []) if (err) throw err;
  return { token, record };
}

/** The token's record, or undefined for a token that is malformed, unknown or revoked. */
export async function resolveApiToken({ redis, keys }: RedisContext, token: string): Promise<ApiToken | undefined> {
  if (!TOKEN.test(token)) return undefined;
  const json = await redis.get(keys.apiToken(digestOf(token)));
  return json ? (JSON.parse(json) as ApiToken) : undefined;
}

export async function listApiTokens({ redis, keys }: RedisContext, user: string): Promise<ApiToken[]> {
  const digests = Object.values(await redis.hgetall(keys.apiTokens(user)));
  if (digests.length === 0) return [];
  const records = await redis.mget(digests.map((d) => keys.apiToken(d)));
  return records.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as ApiToken).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Revokes one of user's tokens; false when user has no token with that id. */
export async function revokeApiToken({ redis, keys }: RedisContext, user: string, id: string): Promise<boolean> {
  if (!/^[0-9a-f]{12}$/.test(id)) throw new MagratheaError(`tokens:revoke: ${JSON.stringify(id)} is not a token id (12 hex digits, from tokens:list)`, 'invalid-input', 2);
  const digest = await redis.hget(keys.apiTokens(user), id);
  if (!digest) return false;
  await redis.multi().del(keys.apiToken(digest)).hdel(keys.apiTokens(user), id).exec();
  return true;
}
