import { describe, expect, it } from '@jest/globals';
import { appBackupDir, backupDir, backupId, backupsToPrune, backupTime, isBackupId, parseBackupListing } from './database-backups.js';

describe('database backups', () => {
  it('names a backup by its time, to the millisecond, sorting as the times do', () => {
    const id = backupId(new Date('2025-01-02T03:04:05.678Z'));
    expect(id).toBe('20250102T030405.678Z');
    expect(isBackupId(id)).toBe(true);
    expect(backupTime(id)).toBe('2025-01-02T03:04:05.678Z');
    for (const bad of ['../x', '20250102T030405Z', '20250102T030405.678Z.sql.gz', '']) expect(isBackupId(bad)).toBe(false);
  });

  it('keeps them per app and environment under one root-only directory, names checked', () => {
    expect(backupDir({ app: 'shop', env: 'production' })).toBe('/var/backups/magrathea/shop/production');
    expect(appBackupDir('shop')).toBe('/var/backups/magrathea/shop');
    expect(() => backupDir({ app: 'shop', env: '../x' })).toThrow();
    expect(() => appBackupDir('a/b')).toThrow();
  });

  it('reads a listing strictly (oldest first) and prunes beyond keep', () => {
    const listing = '120 20250102T030405.678Z.sql.gz\n99 20250101T000000.000Z.sql.gz\n5 .20250103T000000.000Z.partial\n7 notes.sql.gz\n8 20250104T000000.000Z.sql.gz\n';
    const entries = parseBackupListing(listing);
    expect(entries.map((e) => e.id)).toEqual(['20250101T000000.000Z', '20250102T030405.678Z', '20250104T000000.000Z']);
    expect(entries[1]).toEqual({ id: '20250102T030405.678Z', time: '2025-01-02T03:04:05.678Z', bytes: 120 });
    expect(backupsToPrune(entries, 2).map((e) => e.id)).toEqual(['20250101T000000.000Z']);
    expect(backupsToPrune(entries, 7)).toEqual([]);
  });
});
