import { describe, expect, it } from '@jest/globals';
import { instanceStorage, UID_BASE, UID_SPAN, unixId } from './names.js';

describe('unixId', () => {
  it('is the same for an instance wherever it is computed, different between instances, inside the reserved range', () => {
    const shop = unixId({ app: 'shop', env: 'production' });
    expect(unixId({ app: 'shop', env: 'production' })).toBe(shop);
    const ids = new Set(['shop.staging', 'blog.production', 'a-b.c', 'a.b-c'].map((id) => unixId({ app: id.split('.')[0]!, env: id.split('.')[1]! })));
    ids.add(shop);
    expect(ids.size).toBe(5);
    for (const id of ids) {
      expect(id).toBeGreaterThanOrEqual(UID_BASE);
      expect(id).toBeLessThan(UID_BASE + UID_SPAN);
    }
    // Below 2^31 (signed uid_t users, NFSv3) and apart from the build sandbox's 1900000000-1999999999.
    expect(UID_BASE + UID_SPAN).toBeLessThanOrEqual(2 ** 31);
    expect(UID_BASE).toBeGreaterThan(1_999_999_999);
  });

  it('places an instance on storage at <storage>/<app>/<env>', () => {
    expect(instanceStorage('/srv/magrathea', { app: 'shop', env: 'production' })).toBe('/srv/magrathea/shop/production');
  });
});
