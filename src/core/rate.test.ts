import { describe, expect, it } from '@jest/globals';
import { RateLimit } from './rate.js';

describe('RateLimit', () => {
  it('lets a burst of perMinute through, then says how long to wait, per key', () => {
    const limit = new RateLimit(6); // one every 10 s
    const t = 1_000_000;
    for (let i = 0; i < 6; i++) expect(limit.take('a', t)).toBe(0);
    expect(limit.take('a', t)).toBe(10);
    expect(limit.take('b', t)).toBe(0);
    expect(limit.take('a', t + 4_000)).toBe(6);
    expect(limit.take('a', t + 10_000)).toBe(0);
    expect(limit.take('a', t + 10_000)).toBe(10);
    // A minute idle refills it all, and no more.
    for (let i = 0; i < 6; i++) expect(limit.take('a', t + 600_000)).toBe(0);
    expect(limit.take('a', t + 600_000)).toBeGreaterThan(0);
  });
});
