/**
 * Where the accounting job is in a cache host's edge log, and how it goes
 * on from there whatever happened to the file since: grown, rotated by
 * rename and create (then reopened on SIGHUP), or copied and truncated.
 * Pure: the job probes the files, asks planRead what to read, reads it,
 * and asks advanceCursor where that leaves it.
 *
 * A file is known by its inode and by the bytes just before the cursor
 * (FINGERPRINT bytes, the end of the last line counted): a truncated file
 * that grew back past the cursor, or a new file that got the old one's
 * inode, does not have them there.
 */

/** Bytes before the offset kept to recognise the file. */
export const FINGERPRINT = 64;

export interface EdgeLogCursor {
  inode: number;
  /** The byte after the last complete line counted. */
  offset: number;
  /** Base64 of the (up to FINGERPRINT) bytes before `offset`. */
  fp: string;
  /** Inside a line longer than a whole read: the bytes up to its newline are not counted. */
  skip?: true;
}

/** What the probe saw of one file: its identity and size, and its bytes before the cursor's offset when it is that long. */
export interface LogFileProbe {
  inode: number;
  size: number;
  /** Base64 of the bytes [offset - fp length, offset) of this file, for the cursor's offset; absent when the file is shorter. */
  fp?: string;
}

/** The current log and the previous one (`edge.log.1`), probed in that order: a writer that moved to the current file is done with the previous. */
export interface EdgeLogProbe {
  current?: LogFileProbe;
  rotated?: LogFileProbe;
}

export type LogFile = 'current' | 'rotated';

export type ReadPlan =
  | {
      kind: 'read';
      file: LogFile;
      inode: number;
      /** The cursor the read goes on from (for a file read from its start, a fresh one). */
      cursor: EdgeLogCursor;
      /** The file's size when probed: read up to here, no further. */
      to: number;
      /** The file will not grow: its last line counts without a newline, and past its end the job goes on in the current file. */
      finished: boolean;
      /** What was lost (a rotation the job did not see), for the run's report. */
      gap?: string;
    }
  | { kind: 'idle'; cursor?: EdgeLogCursor; gap?: string };

const fresh = (file: LogFileProbe): EdgeLogCursor => ({ inode: file.inode, offset: 0, fp: '' });

/** Whether `file` holds the cursor's bytes: long enough, the same bytes before the offset. */
function holds(file: LogFileProbe | undefined, cursor: EdgeLogCursor): file is LogFileProbe {
  return file !== undefined && file.size >= cursor.offset && (cursor.offset === 0 || file.fp === cursor.fp);
}

/** What to read next, from the stored cursor (none before the first run) and what the probe saw. */
export function planRead(cursor: EdgeLogCursor | undefined, probe: EdgeLogProbe): ReadPlan {
  const { current, rotated } = probe;
  const fromStart = (gap?: string): ReadPlan =>
    current ? readOf('current', fresh(current), current, false, gap) : { kind: 'idle', ...(cursor ? { cursor } : {}), ...(gap ? { gap } : {}) };
  if (!cursor) return fromStart();
  const lost = (what: string): string => `${what}: the lines after byte ${cursor.offset} of the log file with inode ${cursor.inode} were not counted`;

  if (current && current.inode === cursor.inode) {
    // The same file, grown (or not): go on.
    if (holds(current, cursor)) return readOf('current', cursor, current, false);
    // Truncated (copytruncate): its old content is in the copy, which is complete by now.
    if (rotated && rotated.inode !== cursor.inode && cursor.offset > 0 && holds(rotated, cursor)) return readOf('rotated', cursor, rotated, true);
    return fromStart(lost('the log was truncated and no copy of it was found'));
  }
  // Renamed (then a new file created), or copied: the old content is the previous file's.
  if (rotated && (rotated.inode === cursor.inode || cursor.offset > 0) && holds(rotated, cursor)) {
    // The writer is done with it once it has written to the new file (probed before it).
    return readOf('rotated', cursor, rotated, (current?.size ?? 0) > 0);
  }
  if (!current) return { kind: 'idle', cursor };
  return fromStart(lost('the log was rotated more than once since the last run, or removed'));
}

function readOf(file: LogFile, cursor: EdgeLogCursor, probe: LogFileProbe, finished: boolean, gap?: string): ReadPlan {
  return { kind: 'read', file, inode: probe.inode, cursor, to: probe.size, finished, ...(gap ? { gap } : {}) };
}

export interface ReadOutcome {
  /** Bytes read, from the plan's cursor offset on (the fingerprint bytes before it not included). */
  read: number;
  /** Of them, the bytes of complete lines the parser counted (or skipped as one oversized line). */
  consumed: number;
  /** The (up to FINGERPRINT) bytes before the new offset. */
  fp: string;
  /** The read ended inside a line too long for it: skip to that line's end next time. */
  skip: boolean;
}

/**
 * The cursor after a read: past what was consumed; in the current file at
 * its start once a finished file is read to its end. `current` is the
 * current file as probed (for its inode).
 */
export function advanceCursor(plan: Extract<ReadPlan, { kind: 'read' }>, outcome: ReadOutcome, current: LogFileProbe | undefined): EdgeLogCursor {
  const offset = plan.cursor.offset + outcome.consumed;
  if (plan.finished && offset >= plan.to && current && current.inode !== plan.inode) return fresh(current);
  return { inode: plan.inode, offset, fp: outcome.fp, ...(outcome.skip ? { skip: true as const } : {}) };
}
