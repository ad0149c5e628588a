import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Keys } from '../../src/state/keys.js';
import type { RedisContext } from '../../src/state/redis.js';
import { commitTraffic, destroyAccountingState, readCursor, recordDisk } from '../../src/state/usage.js';
import type { TrafficRow } from '../../src/core/accounting/parser.js';
import { dayKey, hourKey } from '../../src/core/accounting/usage.js';
import { freshKeys, listKeys, startTestRedis, type TestRedis } from '../helpers/redis.js';

let server: TestRedis;
let keys: Keys;
let context: RedisContext;

beforeAll(async () => {
  server = await startTestRedis();
  keys = freshKeys();
  context = { redis: server.handle.client, keys };
});
afterAll(async () => {
  await server?.stop();
});

const row = (ident: string, hour: number, requests: number, bytesOut: number): TrafficRow => ({ ident, hour, requests, bytesIn: requests * 100, bytesOut, status: [0, requests, 0, 0, 0, 0] });
// Keys expire a retention after their hour or day: the test's hours are recent ones.
const HOUR = Math.floor(Date.now() / 3600_000) - 2;
const DAY = new Date(HOUR * 3600_000);

describe('accounting state in Redis', () => {
  it('counts a read once: the sums and the cursor move together, and only from the cursor the read started at', async () => {
    const next = { inode: 7, offset: 500, fp: 'eA==' };
    const commit = { cluster: 'c1', host: 'e1', expected: null, next, rows: [row('shop_production', HOUR, 3, 1000), row('-', HOUR, 9, 9)], retentionSeconds: 86400 };
    expect(await commitTraffic(context, commit)).toBe(true);
    // The same read committed again (a run killed after its commit and run again from the old cursor): refused, nothing added.
    expect(await commitTraffic(context, commit)).toBe(false);
    expect(await server.handle.client.hgetall(keys.traffic('shop', 'production', hourKey(HOUR)))).toEqual({ 'c1:requests': '3', 'c1:in': '300', 'c1:out': '1000', 'c1:2xx': '3' });
    const stored = await readCursor(context, 'c1', 'e1');
    expect(stored.cursor).toEqual(next);
    // The next read goes on from the stored text.
    expect(await commitTraffic(context, { ...commit, expected: stored.text, next: { ...next, offset: 900 }, rows: [row('shop_production', HOUR, 1, 10), row('shop_staging', HOUR + 1, 2, 20)] })).toBe(true);
    expect(await server.handle.client.hget(keys.traffic('shop', 'production', hourKey(HOUR)), 'c1:requests')).toBe('4');
    expect((await server.handle.client.smembers(keys.trafficEnvs('shop'))).sort()).toEqual(['production', 'staging']);
    // Kept for the retention after the hour's end.
    expect(await server.handle.client.expiretime(keys.traffic('shop', 'staging', hourKey(HOUR + 1)))).toBe((HOUR + 2) * 3600 + 86400);
  });

  it('replaces a host\'s disk figures at each visit and keeps the day\'s largest', async () => {
    const at = DAY;
    const later = new Date(at.getTime() + 60_000);
    await recordDisk(context, { cluster: 'c1', host: 'w1', at, instances: [{ app: 'shop', env: 'production', bytes: 5000 }, { app: 'blog', env: 'production', bytes: 70 }], retentionSeconds: 86400 });
    await recordDisk(context, { cluster: 'c1', host: 'w1', at: later, instances: [{ app: 'shop', env: 'production', bytes: 3000 }], retentionSeconds: 86400 });
    expect(await server.handle.client.hgetall(keys.hostDisk('c1', 'w1'))).toEqual({ '@at': later.toISOString(), 'shop.production': '3000' });
    expect(await server.handle.client.hgetall(keys.diskDay('shop', 'production', dayKey(at)))).toEqual({ 'c1:w1': '5000', 'c1:w1:last': '3000' });
    expect(await server.handle.client.expiretime(keys.diskDay('shop', 'production', dayKey(at)))).toBe(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + 1) / 1000 + 86400);
  });

  it('removes an app\'s traffic and disk history, and nothing of another app', async () => {
    await destroyAccountingState(context, 'shop');
    const left = await listKeys(server.handle, keys);
    expect(left.filter((k) => k.includes(':shop:') || k.endsWith(':shop'))).toEqual([]);
    expect(left).toContain(keys.diskDay('blog', 'production', dayKey(DAY)));
  });
});
