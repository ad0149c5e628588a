import { describe, expect, test } from '@jest/globals';
import { destroyAppState, readClusterReleases, readInstanceReleases, recordClusterReleases } from '../../src/state/host-releases.js';
import { listKeys, useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();

describe('what hosts and instances serve', () => {
  test('a cluster switch records every host and the instance; the next one replaces them all', async () => {
    const ctx = redis.context();
    const at = new Date('2026-01-02T03:04:05Z');
    await recordClusterReleases(ctx, { app: 'shop', env: 'production', cluster: 'cluster-a', hosts: { 'web-1': 'r1', 'web-2': 'r1', 'web-3': 'r1' }, release: 'r1', switchedAt: at });
    await recordClusterReleases(ctx, { app: 'shop', env: 'production', cluster: 'cluster-b', hosts: { 'web-1': 'r1' }, release: 'r1', switchedAt: at });
    // cluster-a lost web-3 and switched to r2.
    await recordClusterReleases(ctx, { app: 'shop', env: 'production', cluster: 'cluster-a', hosts: { 'web-1': 'r2', 'web-2': 'r2' }, release: 'r2', switchedAt: at });

    expect(await readClusterReleases(ctx, 'shop', 'production', 'cluster-a')).toEqual({
      hosts: { 'web-1': 'r2', 'web-2': 'r2' },
      instance: { release: 'r2', switchedAt: '2026-01-02T03:04:05.000Z' },
    });
    expect(await readInstanceReleases(ctx, 'shop', 'production')).toEqual({
      'cluster-a': { release: 'r2', switchedAt: '2026-01-02T03:04:05.000Z' },
      'cluster-b': { release: 'r1', switchedAt: '2026-01-02T03:04:05.000Z' },
    });
    expect(await readClusterReleases(ctx, 'shop', 'staging', 'cluster-a')).toEqual({ hosts: {} });
  });

  test('a reader never sees a cluster half switched (one atomic step), under 300 concurrent switches', async () => {
    const ctx = redis.context();
    const hosts = (release: string) => Object.fromEntries(['web-1', 'web-2', 'web-3', 'web-4'].map((h) => [h, release]));
    const reader = redis.handle.duplicate();
    try {
      let switching = true;
      const writes = (async () => {
        for (let i = 1; i <= 300; i++) await recordClusterReleases(ctx, { app: 'shop', env: 'production', cluster: 'cluster-a', hosts: hosts(`r${i}`), release: `r${i}` });
        switching = false;
      })();
      const seen = new Set<string>();
      while (switching) {
        const state = await readClusterReleases({ redis: reader, keys: ctx.keys }, 'shop', 'production', 'cluster-a');
        if (!state.instance) continue;
        const served = new Set(Object.values(state.hosts));
        expect([...served]).toEqual([state.instance.release]);
        expect(Object.keys(state.hosts)).toHaveLength(4);
        seen.add(state.instance.release);
      }
      await writes;
      // The reader did run between the writes, not only before or after them.
      expect(seen.size).toBeGreaterThan(10);
    } finally {
      reader.disconnect();
    }
  });

  test('host names and release ids are checked', async () => {
    const ctx = redis.context();
    await expect(recordClusterReleases(ctx, { app: 'shop', env: 'production', cluster: 'cluster-a', hosts: { 'web 1': 'r1' }, release: 'r1' })).rejects.toThrow(/host: "web 1" is not a valid name/);
    await expect(recordClusterReleases(ctx, { app: 'shop', env: 'production', cluster: 'cluster-a', hosts: { 'web-1': 'latest' }, release: 'r1' })).rejects.toThrow(/"latest" is not a release id/);
    await expect(recordClusterReleases(ctx, { app: 'shop', env: 'production', cluster: 'cluster-a', hosts: {}, release: 'r1' })).rejects.toThrow(/no hosts given/);
    expect(await listKeys(redis.handle, ctx.keys)).toEqual([]);
  });

  test('destroyAppState removes what the app serves in every env, and only that app', async () => {
    const ctx = redis.context();
    for (const [app, env] of [['shop', 'production'], ['shop', 'staging'], ['shop-2', 'production']] as const) {
      await recordClusterReleases(ctx, { app, env, cluster: 'cluster-a', hosts: { 'web-1': 'r1' }, release: 'r1' });
    }
    await destroyAppState(ctx, 'shop');
    const p = ctx.keys.prefix;
    expect(await listKeys(redis.handle, ctx.keys)).toEqual([`${p}:host-release:shop-2:production:cluster-a`, `${p}:instance-release:shop-2:production`]);
  });
});
