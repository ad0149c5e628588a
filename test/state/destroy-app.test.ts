import { describe, expect, test } from '@jest/globals';
import type { RedisContext } from '../../src/state/redis.js';
import { commitTraffic, recordDisk } from '../../src/state/usage.js';
import { hourKey } from '../../src/core/accounting/usage.js';
import type { InstanceConfig } from '../../src/core/manifest/types.js';
import { acquireAppLock, lockValue, registerDeploy } from '../../src/state/app-lock.js';
import { redisDeployState } from '../../src/deployer/redis-state.js';
import { setConfigVars } from '../../src/state/config-vars.js';
import { destroyAppKeys } from '../../src/state/destroy-app.js';
import { recordClusterReleases } from '../../src/state/host-releases.js';
import { recordRelease } from '../../src/state/releases.js';
import { freshKeys, listKeys, useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();

const HOUR = Math.floor(Date.now() / 3600_000) - 1;

/** Everything the gateway keeps of one app, written through each module's own functions. */
async function seed(context: RedisContext, app: string, jobId: string): Promise<void> {
  const env = 'production';
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
