import { describe, expect, it } from '@jest/globals';
import { advanceCursor, planRead, type EdgeLogCursor, type ReadPlan } from './cursor.js';

const FP = Buffer.from('…lines end here\n').toString('base64');
const at = (inode: number, offset: number): EdgeLogCursor => ({ inode, offset, fp: offset ? FP : '' });
type Read = Extract<ReadPlan, { kind: 'read' }>;
const read = (plan: ReadPlan): Read => {
  if (plan.kind !== 'read') throw new Error(`expected a read, got ${JSON.stringify(plan)}`);
  return plan;
};

describe('planRead: where the edge log goes on after growth and both kinds of rotation', () => {
  it('starts at the beginning of the current log on the first run, and idles without one', () => {
    expect(planRead(undefined, { current: { inode: 7, size: 100 } })).toEqual({ kind: 'read', file: 'current', inode: 7, cursor: at(7, 0), to: 100, finished: false });
    expect(planRead(undefined, {})).toEqual({ kind: 'idle' });
  });

  it('goes on in the same file when its bytes before the cursor are still there', () => {
    expect(planRead(at(7, 50), { current: { inode: 7, size: 80, fp: FP } })).toMatchObject({ kind: 'read', file: 'current', cursor: at(7, 50), to: 80, finished: false });
  });

  it('rename and create: reads the renamed file to its end once the writer has moved to the new one, then the new one from its start', () => {
    // varnishncsa not reopened yet: the new file is empty, the old one may still grow.
    const waiting = read(planRead(at(7, 50), { current: { inode: 9, size: 0 }, rotated: { inode: 7, size: 60, fp: FP } }));
    expect(waiting).toMatchObject({ file: 'rotated', inode: 7, to: 60, finished: false });
    expect(advanceCursor(waiting, { read: 10, consumed: 10, fp: 'x', skip: false }, { inode: 9, size: 0 })).toEqual({ inode: 7, offset: 60, fp: 'x' });
    // Reopened: the old file is done.
    const done = read(planRead({ inode: 7, offset: 60, fp: 'x' }, { current: { inode: 9, size: 5 }, rotated: { inode: 7, size: 70, fp: 'x' } }));
    expect(done).toMatchObject({ file: 'rotated', to: 70, finished: true });
    expect(advanceCursor(done, { read: 10, consumed: 10, fp: 'y', skip: false }, { inode: 9, size: 5 })).toEqual(at(9, 0));
    // A read that stops short of the end (a chunk) stays in the old file.
    expect(advanceCursor(done, { read: 4, consumed: 4, fp: 'y', skip: false }, { inode: 9, size: 5 })).toEqual({ inode: 7, offset: 64, fp: 'y' });
  });

  it('copytruncate: the same inode, shorter or with other bytes before the cursor: the copy is read first', () => {
    const shorter = read(planRead(at(7, 50), { current: { inode: 7, size: 10 }, rotated: { inode: 8, size: 55, fp: FP } }));
    expect(shorter).toMatchObject({ file: 'rotated', inode: 8, cursor: at(7, 50), to: 55, finished: true });
    expect(advanceCursor(shorter, { read: 5, consumed: 5, fp: 'z', skip: false }, { inode: 7, size: 10 })).toEqual(at(7, 0));
    // Grown back past the cursor since: its bytes there are new ones.
    expect(planRead(at(7, 50), { current: { inode: 7, size: 90, fp: 'bmV3' }, rotated: { inode: 8, size: 55, fp: FP } })).toMatchObject({ file: 'rotated', finished: true });
  });

  it('reports a gap and starts over when the old content is nowhere (rotated twice, compressed, removed)', () => {
    const plan = read(planRead(at(7, 50), { current: { inode: 11, size: 30 }, rotated: { inode: 10, size: 900, fp: 'b3RoZXI=' } }));
    expect(plan).toMatchObject({ file: 'current', inode: 11, cursor: at(11, 0), to: 30 });
    expect(plan.gap).toMatch(/rotated more than once.*after byte 50 of the log file with inode 7/);
    expect(read(planRead(at(7, 50), { current: { inode: 7, size: 20 } })).gap).toMatch(/truncated and no copy/);
  });

  it('does not take a new file that got the old inode for the old one', () => {
    const plan = read(planRead(at(7, 50), { current: { inode: 7, size: 4000, fp: 'bmV3IGJ5dGVz' } }));
    expect(plan).toMatchObject({ cursor: at(7, 0), to: 4000 });
    expect(plan.gap).toBeDefined();
  });

  it('waits while the log is renamed and not yet recreated', () => {
    expect(planRead(at(7, 50), { rotated: { inode: 7, size: 50, fp: FP } })).toMatchObject({ kind: 'read', file: 'rotated', to: 50, finished: false });
    expect(planRead(at(7, 50), {})).toEqual({ kind: 'idle', cursor: at(7, 50) });
  });

  it('keeps skipping a line longer than a whole read', () => {
    const plan = read(planRead(at(7, 50), { current: { inode: 7, size: 5000, fp: FP } }));
    expect(advanceCursor(plan, { read: 1000, consumed: 1000, fp: 'eHh4', skip: true }, { inode: 7, size: 5000 })).toEqual({ inode: 7, offset: 1050, fp: 'eHh4', skip: true });
  });
});
