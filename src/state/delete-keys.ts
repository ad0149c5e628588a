import type { Redis } from 'ioredis';

/**
 * Deletes every key matching the patterns (SCAN, then UNLINK in batches) plus
 * the exact keys given. For destroying an app, when no deploy of it runs:
 * SCAN sees keys that no index lists, so nothing of a half-recorded deploy
 * is left behind. Returns how many keys were removed.
 */
export async function deleteKeys(redis: Redis, patterns: readonly string[], exact: readonly string[] = []): Promise<number> {
  let removed = exact.length > 0 ? await redis.unlink(...exact) : 0;
  for (const match of patterns) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) removed += await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  return removed;
}
