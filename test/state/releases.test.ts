import { describe, expect, test } from '@jest/globals';
import type { Redis } from 'ioredis';
import { destroyAppState, listReleaseEnvs, listReleases, markReleaseStatus, readRelease, recordRelease } from '../../src/state/releases.js';
import { listKeys, useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();
const sha = (n: number) => n.toString(16).padStart(40, 'a');

describe('release history', () => {
  test('records releases with ids from the app+env counter, lists them newest first, marks their status', async () => {
    const ctx = redis.context();
    const first = await recordRelease(ctx, { app: 'shop', env: 'production', commit: sha(1), ref: 'refs/heads/master', requestedBy: 'alice' });
    expect(first).toMatchObject({ id: 'r1', number: 1, status: 'building', commit: sha(1), requestedBy: 'alice' });
    await recordRelease(ctx, { app: 'shop', env: 'production', commit: sha(2), ref: 'refs/heads/master', requestedBy: 'bob', jobId: '7' });
    // Another env and another app count on their own.
    expect((await recordRelease(ctx, { app: 'shop', env: 'staging', commit: sha(3), ref: 'refs/heads/develop', requestedBy: 'alice' })).id).toBe('r1');
    expect((await recordRelease(ctx, { app: 'blog', env: 'production', commit: sha(4), ref: 'refs/heads/master', requestedBy: 'alice' })).id).toBe('r1');

    const live = await markReleaseStatus(ctx, { app: 'shop', env: 'production', id: 'r2', status: 'live' });
    expect(live).toMatchObject({ id: 'r2', status: 'live', jobId: '7' });
    await markReleaseStatus(ctx, { app: 'shop', env: 'production', id: 'r1', status: 'failed', message: 'cluster-a web-1 prepare: rsync exited with 23' });

    const list = await listReleases(ctx, 'shop', 'production');
    expect(list.map((r) => [r.id, r.status, r.message])).toEqual([
      ['r2', 'live', undefined],
      ['r1', 'failed', 'cluster-a web-1 prepare: rsync exited with 23'],
    ]);
    expect(await listReleases(ctx, 'shop', 'production', { limit: 1 })).toHaveLength(1);
    expect(await listReleaseEnvs(ctx, 'shop')).toEqual(['production', 'staging']);
    expect(await readRelease(ctx, 'shop', 'production', 'r9')).toBeUndefined();
  });

  test('release counters are atomic under concurrency: 200 releases from 8 connections get 200 distinct ids', async () => {
    const ctx = redis.context();
    const connections: Redis[] = Array.from({ length: 8 }, () => redis.handle.duplicate());
    try {
      const made = await Promise.all(Array.from({ length: 200 }, (_, i) =>
        recordRelease({ redis: connections[i % connections.length]!, keys: ctx.keys }, { app: 'busy', env: 'production', commit: sha(i), ref: 'refs/heads/master', requestedBy: 'ci' })));
      const ids = made.map((r) => r.number).sort((a, b) => a - b);
      expect(ids).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      const listed = await listReleases(ctx, 'busy', 'production', { limit: 500 });
      expect(listed).toHaveLength(200);
      // Newest first: the list's order is the order the numbers were taken in.
      expect(listed.map((r) => r.number)).toEqual([...ids].reverse());
    } finally {
      for (const c of connections) c.disconnect();
    }
  });

  test('marking a release that does not exist fails clearly and creates nothing', async () => {
    const ctx = redis.context();
    await expect(markReleaseStatus(ctx, { app: 'shop', env: 'production', id: 'r5', status: 'live' })).rejects.toThrow('release r5 of shop (production) not found');
    expect(await listKeys(redis.handle, ctx.keys)).toEqual([]);
  });

  test('names, ids and statuses are checked before they reach a key', async () => {
    const ctx = redis.context();
    const base = { env: 'production', commit: sha(1), ref: 'refs/heads/master', requestedBy: 'alice' };
    await expect(recordRelease(ctx, { ...base, app: 'shop:*' })).rejects.toThrow(/is not a valid name/);
    await expect(recordRelease(ctx, { ...base, app: 'shop', commit: 'HEAD; rm -rf /' })).rejects.toThrow(/not a hex commit id/);
    await expect(readRelease(ctx, 'shop', 'production', '../r1')).rejects.toThrow(/not a release id/);
    await expect(markReleaseStatus(ctx, { app: 'shop', env: 'production', id: 'r1', status: 'done' as never })).rejects.toThrow(/unknown release status "done"/);
    expect(await listKeys(redis.handle, ctx.keys)).toEqual([]);
  });

  test("destroyAppState removes the app's history in every env and nothing of an app whose name starts the same", async () => {
    const ctx = redis.context();
    for (const [app, env] of [['shop', 'production'], ['shop', 'staging'], ['shop2', 'production']] as const) {
      const r = await recordRelease(ctx, { app, env, commit: sha(1), ref: 'refs/heads/master', requestedBy: 'alice' });
      await markReleaseStatus(ctx, { app, env, id: r.id, status: 'live' });
    }
    await destroyAppState(ctx, 'shop');
    const p = ctx.keys.prefix;
    expect(await listKeys(redis.handle, ctx.keys)).toEqual([
      `${p}:release-envs:shop2`, `${p}:release-seq:shop2:production`, `${p}:release:shop2:production:r1`, `${p}:releases:shop2:production`,
    ]);
    // A new history starts again at r1.
    expect((await recordRelease(ctx, { app: 'shop', env: 'production', commit: sha(2), ref: 'refs/heads/master', requestedBy: 'alice' })).id).toBe('r1');
  });
});
