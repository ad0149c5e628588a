import { describe, expect, it } from '@jest/globals';
import { buildUsage, formatUsage, type StoredHour } from './usage.js';

describe('usage: databases', () => {
  const base = { app: 'shop', from: 0, to: 1, hours: [], monthHours: [], lastRead: {}, quota: { disk: 1000 } };
  const disks = [{ cluster: 'a', host: 'a-web-1', fields: { '@at': 't', 'shop.production': '300', 'blog.production': '9999' } }];
  const databases = [{ cluster: 'a', fields: { '@at': 't2', '@host': 'a-edge', 'shop.production': '700', 'shop.staging': '500', 'blog.production': '9999' } }];

  it('gives each instance its database size, and counts the app\'s databases as disk of the db host (the quota\'s)', () => {
    const report = buildUsage({ ...base, disks, databases });
    expect(report.instances.map((i) => [i.env, i.diskPerHost, i.database])).toEqual([
      ['production', 300, { host: 'a-edge', bytes: 700, at: 't2' }],
      ['staging', 0, { host: 'a-edge', bytes: 500, at: 't2' }],
    ]);
    expect(report.total.diskPerHost).toBe(1200);
    expect(report.warnings).toEqual(['shop uses 1.2 KiB of disk on a host, over its quota of 1000 B']);
    const table = formatUsage(report);
    expect(table).toMatch(/DISK\/HOST +DB\n/);
    expect(table).toMatch(/production +a .* 300 B +700 B\n/);
    expect(table).toMatch(/total .* 1\.2 KiB +1\.2 KiB\n/);
  });

  it('shows no DB column for an app without a database', () => {
    const report = buildUsage({ ...base, disks, databases: [] });
    expect(report.instances[0]!.database).toBeUndefined();
    expect(formatUsage(report)).not.toMatch(/ DB/);
  });
});

describe('usage: hours', () => {
  const base = { app: 'shop', from: 10, to: 12, monthHours: [], disks: [], lastRead: {}, quota: {} };

  it('lists each hour with traffic per environment and cluster, in order, within the window only', () => {
    const hours: StoredHour[] = [
      { env: 'production', hour: 12, fields: { 'a:requests': '3', 'a:out': '300', 'a:2xx': '3', 'b:requests': '1', 'b:5xx': '1' } },
      { env: 'production', hour: 11, fields: { 'a:requests': '2', 'a:in': '20', 'a:4xx': '2' } },
      { env: 'production', hour: 9, fields: { 'a:requests': '99' } },
    ];
    const report = buildUsage({ ...base, hours });
    expect(report.hours.map((h) => [h.hour, h.env, h.cluster, h.requests, h.bytesIn, h.bytesOut, h.status['2xx'], h.status['4xx'], h.status['5xx']])).toEqual([
      [new Date(11 * 3600_000).toISOString(), 'production', 'a', 2, 20, 0, 0, 2, 0],
      [new Date(12 * 3600_000).toISOString(), 'production', 'a', 3, 0, 300, 3, 0, 0],
      [new Date(12 * 3600_000).toISOString(), 'production', 'b', 1, 0, 0, 0, 0, 1],
    ]);
    // The hours add up to the instances' totals.
    expect(report.instances.find((i) => i.cluster === 'a')!.requests).toBe(5);
  });
});
