import { clearSlots, identBytes, instantiateKernel, LAYOUT, SLOT_VALUES, WINDOW, type Kernel } from './kernel.js';

/** Status classes in the order sums keep them: 1xx to 5xx, then anything else. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** What the lines of one instance (`ident`, as in the log: `<app>_<env>`, or `-`) sent in one hour. */
export interface TrafficRow {
  ident: string;
  /** Hours since the epoch (UTC): the hour the requests began in. */
  hour: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  /** Requests per status class, in STATUS_CLASSES order. */
  status: number[];
}

export interface TrafficSums {
  rows: TrafficRow[];
  /** Lines counted, good or not. */
  lines: number;
  /** Lines whose first five fields could not be read (counted in no row). */
  malformed: number;
  /** Lines of an instance the parser had no room left to tell apart (more than MAX_IDS names at once). */
  overflow: number;
}

export interface EdgeLogResult extends TrafficSums {
  /**
   * Bytes of the input that were parsed: up to and including the last
   * newline (a line still being written is left for next time), or all of
   * them when the input was ended as final.
   */
  consumed: number;
}

const READ_SIZE = 128 * 1024;

/**
 * Sums an edge log (EDGE_LOG_FORMAT) per instance and hour, fed in pieces
 * of any size: no string per line. Lines are read and summed by the
 * kernel in its own memory; this moves input into its window and takes
 * the sums out. A line of 1 MiB or more (WINDOW) is counted as malformed
 * and skipped. One parser, one input: `end` once.
 */
export class EdgeLogParser {
  private readonly kernel: Kernel = instantiateKernel();
  private readonly memory = new Uint8Array(this.kernel.memory.buffer);
  /** Bytes at the window's start kept from the previous piece: the beginning of a line. */
  private kept = 0;
  /** Inside a line longer than the window: drop bytes up to its newline. */
  private skipping = false;
  /** Input offset of the window's first byte. */
  private base = 0;
  private consumed = 0;
  private lines = 0;
  private oversized = 0;
  /** Sums taken out of the kernel when its slots filled up, by `<id> <hour>`. */
  private readonly drained = new Map<string, TrafficRow>();

  /** Parses `bytes` (copied into the window piece by piece). */
  write(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const room = this.room();
      const n = Math.min(room.length, bytes.length - at);
      room.set(bytes.subarray(at, at + n));
      at += n;
      this.filled(n);
    }
  }

  /**
   * Parses what `read` writes into the window, until it returns 0: for a
   * file, `(into) => readSync(fd, into)`, with no copy of ours.
   */
  pull(read: (into: Uint8Array) => number): void {
    for (;;) {
      // Reads of 128 KiB: larger ones into a Node buffer were measured two to four times slower.
      const n = read(this.room().subarray(0, READ_SIZE));
      if (n === 0) return;
      this.filled(n);
    }
  }

  /**
   * The sums so far. With `final`, the input ends here: its last line is
   * parsed even without a newline. Otherwise it is left out of the sums and
   * of `consumed`, for a later read to complete.
   */
  end(final = false): EdgeLogResult {
    if (final && this.skipping) this.countOversized();
    else if (final && this.kept > 0) this.run(this.kept, true);
    if (final) this.consumed = this.base + this.kept;
    return { ...this.collect(), consumed: this.consumed };
  }

  /**
   * Ends one part of the input, when the next bytes written or pulled are
   * not its continuation (a thread's next share of a file): with `final`,
   * its last line counts without a newline; without, the part must have
   * ended with one.
   */
  endPart(final: boolean): void {
    if (final && this.skipping) this.countOversized();
    else if (final && this.kept > 0) this.run(this.kept, true);
    this.base += this.kept;
    this.consumed = this.base;
    this.kept = 0;
    this.skipping = false;
  }

  private countOversized(): void {
    this.skipping = false;
    this.oversized++;
  }

  private room(): Uint8Array {
    return this.memory.subarray(LAYOUT.input + this.kept, LAYOUT.input + WINDOW);
  }

  /** `n` more bytes are in the window after the kept ones. */
  private filled(n: number): void {
    let length = this.kept + n;
    if (this.skipping) {
      const newline = this.memory.subarray(LAYOUT.input, LAYOUT.input + length).indexOf(10);
      if (newline < 0) {
        this.base += length;
        this.kept = 0;
        return;
      }
      this.countOversized();
      this.consumed = this.base + newline + 1;
      this.memory.copyWithin(LAYOUT.input, LAYOUT.input + newline + 1, LAYOUT.input + length);
      this.base += newline + 1;
      length -= newline + 1;
    }
    const parsed = this.run(length, false);
    const rest = length - parsed;
    if (rest === WINDOW) {
      // A whole window and no newline: not a line of ours. Skip to its end, then count it.
      this.skipping = true;
      this.base += WINDOW;
      this.kept = 0;
      return;
    }
    this.memory.copyWithin(LAYOUT.input, LAYOUT.input + parsed, LAYOUT.input + length);
    this.base += parsed;
    this.kept = rest;
  }

  /** Runs the kernel over the window's first `length` bytes; returns how many it consumed. */
  private run(length: number, final: boolean): number {
    let start = LAYOUT.input;
    const end = LAYOUT.input + length;
    for (;;) {
      this.lines += this.kernel.parse(start, end, final ? 1 : 0);
      const next = this.kernel.consumed.value;
      if (next > start) this.consumed = this.base + (next - LAYOUT.input);
      if (this.kernel.full.value === 0) return next - LAYOUT.input;
      this.drain();
      start = next;
    }
  }

  /** Takes the sums out of the kernel's slots, which are then free again. */
  private drain(): void {
    for (const row of this.slotRows()) {
      const key = `${row.ident} ${row.hour}`;
      const seen = this.drained.get(key);
      if (seen) addRow(seen, row);
      else this.drained.set(key, row);
    }
    clearSlots(this.kernel);
  }

  private slotRows(): TrafficRow[] {
    const slots = this.kernel.slots.value;
    const keys = new Int32Array(this.kernel.memory.buffer, LAYOUT.slotKeys, slots * 2);
    const sums = new Float64Array(this.kernel.memory.buffer, LAYOUT.sums, slots * SLOT_VALUES);
    const names = new Map<number, string>();
    const rows: TrafficRow[] = [];
    for (let slot = 0; slot < slots; slot++) {
      const id = keys[slot * 2]!;
      let ident = names.get(id);
      if (ident === undefined) names.set(id, (ident = latin1(identBytes(this.kernel, id))));
      const s = slot * SLOT_VALUES;
      rows.push({ ident, hour: keys[slot * 2 + 1]!, requests: sums[s]!, bytesIn: sums[s + 1]!, bytesOut: sums[s + 2]!, status: Array.from(sums.subarray(s + 3, s + SLOT_VALUES)) });
    }
    return rows;
  }

  private collect(): TrafficSums {
    const rows = new Map(this.drained);
    for (const row of this.slotRows()) {
      const key = `${row.ident} ${row.hour}`;
      const seen = rows.get(key);
      if (seen) rows.set(key, addRow({ ...seen, status: [...seen.status] }, row));
      else rows.set(key, row);
    }
    return {
      rows: sortRows([...rows.values()]),
      lines: this.lines + this.oversized,
      malformed: this.kernel.malformed.value + this.oversized,
      overflow: this.kernel.overflow.value,
    };
  }
}

function addRow(into: TrafficRow, row: TrafficRow): TrafficRow {
  into.requests += row.requests;
  into.bytesIn += row.bytesIn;
  into.bytesOut += row.bytesOut;
  row.status.forEach((n, i) => (into.status[i]! += n));
  return into;
}

/** Sums a whole edge log held in memory. `final`: its last line counts even without a newline. */
export function parseEdgeLog(bytes: Uint8Array, final = false): EdgeLogResult {
  const parser = new EdgeLogParser();
  parser.write(bytes);
  return parser.end(final);
}

/** Adds sums of separate parts of a log (threads' shares, rotated then current file). */
export function mergeSums(parts: readonly TrafficSums[]): TrafficSums {
  const byKey = new Map<string, TrafficRow>();
  const out: TrafficSums = { rows: [], lines: 0, malformed: 0, overflow: 0 };
  for (const part of parts) {
    out.lines += part.lines;
    out.malformed += part.malformed;
    out.overflow += part.overflow;
    for (const row of part.rows) {
      const key = `${row.ident} ${row.hour}`;
      const seen = byKey.get(key);
      if (!seen) {
        byKey.set(key, { ...row, status: [...row.status] });
        continue;
      }
      seen.requests += row.requests;
      seen.bytesIn += row.bytesIn;
      seen.bytesOut += row.bytesOut;
      row.status.forEach((n, i) => (seen.status[i]! += n));
    }
  }
  out.rows = sortRows([...byKey.values()]);
  return out;
}

function sortRows(rows: TrafficRow[]): TrafficRow[] {
  return rows.sort((a, b) => (a.ident < b.ident ? -1 : a.ident > b.ident ? 1 : a.hour - b.hour));
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}
