import { describe, expect, test } from '@jest/globals';
import type { RedisContext } from '../../src/state/redis.js';
import { commitTraffic, recordDisk } from '../../src/state/usage.js';
import { hourKey } from '../../src/core/accounting/usage.js';
import type { InstanceConfig } from '../../src/core/manifest/types.js';
import { acquireAppLock, lockValue, registerDeploy } from '../../src/state/app-lock.js';
import { redisDeployState } from '../../src/deployer/redis-state.js';
import { setConfigVars } from '../../src/state/config-vars.js';
import { destroyAppKeys, destroyEnvKeys } from '../../src/state/destroy-app.js';
import { claimReviewInstance, readReviewInstance, releaseReviewInstance } from '../../src/state/review-branches.js';
import { recordClusterReleases } from '../../src/state/host-releases.js';
import { recordRelease } from '../../src/state/releases.js';
import { freshKeys, listKeys, useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();

const HOUR = Math.floor(Date.now() / 3600_000) - 1;

/** Everything the gateway keeps of one app, written through each module's own functions. */
async function seed(context: RedisContext, app: string, jobId: string, env = 'production'): Promise<void> {
  await recordRelease(context, { app, env, commit: 'a'.repeat(40), ref: 'refs/heads/master', requestedBy: 'alice' });
  await recordClusterReleases(context, { app, env, cluster: 'cluster-a', release: 'r1', hosts: { 'web-1': 'r1' } });
  await setConfigVars(context, app, env, undefined, { KEY: 'value' });
  await setConfigVars(context, app, env, 'cluster-a', { KEY: 'other' });
  await registerDeploy(context.redis, context.keys, { app, env }, jobId);
  await acquireAppLock(context.redis, context.keys, { app, env }, jobId, lockValue(jobId, 'token'), 60_000);
  await redisDeployState(context).saveInstance({ app, env, cluster: 'cluster-a' } as InstanceConfig, 'r1');
  const cursor = await context.redis.get(context.keys.edgeCursor('cluster-a', 'edge-1'));
  const committed = await commitTraffic(context, {
    cluster: 'cluster-a',
    host: 'edge-1',
    expected: cursor,
    next: { inode: 1, offset: Number(jobId) * 100, fp: 'eA==' },
    rows: [{ ident: `${app.replace(/-/g, '_')}_${env}`, hour: HOUR, requests: 2, bytesIn: 20, bytesOut: 200, status: [0, 2, 0, 0, 0, 0] }],
    retentionSeconds: 86400,
  });
  expect(committed).toBe(true);
  await recordDisk(context, { cluster: 'cluster-a', host: 'web-1', at: new Date(), instances: [{ app, env, bytes: 1000 }], retentionSeconds: 86400 });
}

/** Every key with its type and content (hash fields sorted), except the hosts' latest disk figures, which the next visit rewrites. */
async function dump(context: RedisContext): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of await listKeys(redis.handle, context.keys)) {
    if (key.startsWith(context.keys.hostDisk('cluster-a', 'web-1').replace(/web-1$/, ''))) continue;
    const type = await context.redis.type(key);
    out[key] =
      type === 'hash' ? Object.entries(await context.redis.hgetall(key)).sort()
      : type === 'set' ? (await context.redis.smembers(key)).sort()
      : type === 'zset' ? await context.redis.zrange(key, '0', '-1', 'WITHSCORES')
      : type === 'list' ? await context.redis.lrange(key, 0, -1)
      : await context.redis.get(key);
  }
  return out;
}

describe('destroyAppKeys', () => {
  test("removes every key and hash field of the app, in every module, and nothing of an app whose name starts the same", async () => {
    const context: RedisContext = { redis: redis.handle.client, keys: freshKeys() };
    await seed(context, 'shop-two', '1');
    const before = await dump(context);
    await seed(context, 'shop', '2');
    const seeded = await dump(context);
    // Each module wrote something for shop: the check below would catch any of them left.
    const added = Object.keys(seeded).filter((k) => JSON.stringify(seeded[k]) !== JSON.stringify(before[k]));
    expect(added.length).toBeGreaterThanOrEqual(10);
    expect(added.some((k) => k.includes('traffic'))).toBe(true);
    expect(added.some((k) => k.includes('disk'))).toBe(true);

    await destroyAppKeys(context, 'shop');
    const after = await dump(context);
    // The edge log's cursor moved with shop's traffic: it belongs to the host, not the app, and stays where it is.
    const cursorKey = context.keys.edgeCursor('cluster-a', 'edge-1');
    expect({ ...after, [cursorKey]: null }).toEqual({ ...before, [cursorKey]: null });
    expect(after[cursorKey]).toBe(seeded[cursorKey]);
    expect(await redis.handle.client.exists(context.keys.traffic('shop', 'production', hourKey(HOUR)))).toBe(0);
  });
});

describe('destroyEnvKeys', () => {
  test("removes one review instance's keys once it is off the hosts, keeps its usage history, and leaves the app's other environments as they were", async () => {
    const context: RedisContext = { redis: redis.handle.client, keys: freshKeys() };
    await seed(context, 'shop', '1');
    const before = await dump(context);
    await seed(context, 'shop', '2', 'review-x2');
    const withSibling = await dump(context);
    await seed(context, 'shop', '3', 'review-x');
    // What undeployCluster does for each cluster (a deploy's lock and place in line are the queue's to clear).
    await redisDeployState(context).forgetInstance('shop', 'review-x', 'cluster-a');
    await destroyEnvKeys(context, 'shop', 'review-x');
    const after = await dump(context);
    const usage = (k: string) => k.includes(':traffic') || k.includes(':disk-day:') || k.includes(':deploy-lock:') || k.includes(':deploy-order:') || k.includes('edge-cursor');
    const strip = (d: Record<string, unknown>) => Object.fromEntries(Object.entries(d).filter(([k]) => !usage(k)));
    expect(strip(after)).toEqual(strip(withSibling));
    expect(Object.keys(after).filter((k) => k.includes(':review-x:') && !usage(k))).toEqual([]);
    expect(after[context.keys.releaseEnvs('shop')]).toEqual(['production', 'review-x2']);
    expect(await redis.handle.client.exists(context.keys.traffic('shop', 'review-x', hourKey(HOUR)))).toBe(1);
    expect(Object.keys(before).every((k) => k in after)).toBe(true);
  });
});

describe('review instance claims', () => {
  test('the first branch of a slug holds its instance; another is told which; a released claim is free again', async () => {
    const context: RedisContext = { redis: redis.handle.client, keys: freshKeys() };
    expect(await claimReviewInstance(context, 'shop', 'review-fix-1', 'review/Fix-1')).toBe('review/Fix-1');
    expect(await claimReviewInstance(context, 'shop', 'review-fix-1', 'review/Fix-1')).toBe('review/Fix-1');
    expect(await claimReviewInstance(context, 'shop', 'review-fix-1', 'review/fix_1')).toBe('review/Fix-1');
    expect(await readReviewInstance(context, 'shop', 'review/Fix-1')).toBe('review-fix-1');
    expect(await readReviewInstance(context, 'shop', 'review/fix_1')).toBeUndefined();
    await releaseReviewInstance(context, 'shop', 'review-fix-1', 'review/fix_1');
    expect(await readReviewInstance(context, 'shop', 'review/Fix-1')).toBe('review-fix-1');
    await releaseReviewInstance(context, 'shop', 'review-fix-1', 'review/Fix-1');
    expect(await claimReviewInstance(context, 'shop', 'review-fix-1', 'review/fix_1')).toBe('review/fix_1');
    await destroyAppKeys(context, 'shop');
    expect(await readReviewInstance(context, 'shop', 'review/fix_1')).toBeUndefined();
  });
});
