import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { EdgeLogParser, parseEdgeLog, type EdgeLogResult } from '../core/accounting/parser.js';

/**
 * Parts of a file shared by threads: each takes the next part (`next()`,
 * an atomic counter) until none is left, so a thread that started late
 * (a worker takes about 50 ms to start) simply takes fewer. A part is the
 * lines that START in [from, to): every part finds its own first line the
 * way the part before it finds where to stop, so each line is read by
 * exactly one part.
 */
export interface FileShares {
  path: string;
  parts: { from: number; to: number }[];
}

export interface BytesShare {
  bytes: Uint8Array;
  /** The share ends the input: its last line counts without a newline. */
  final: boolean;
}

/** Sums the parts `next()` hands out, until it returns one past the last. */
export function parseFileShares(shares: FileShares, next: () => number): EdgeLogResult {
  const fd = openSync(shares.path, 'r');
  try {
    const size = fstatSync(fd).size;
    const parser = new EdgeLogParser();
    for (let i = next(); i < shares.parts.length; i = next()) {
      const part = shares.parts[i]!;
      const begin = lineStartAtOrAfter(fd, part.from, size);
      const end = part.to >= size ? size : lineStartAtOrAfter(fd, part.to, size);
      let position = begin;
      parser.pull((into) => {
        const n = readSync(fd, into, 0, Math.min(into.length, end - position), position);
        position += n;
        return n;
      });
      parser.endPart(end >= size);
    }
    return parser.end();
  } finally {
    closeSync(fd);
  }
}

/** The offset of the first line that starts at or after `offset`: 0, or one past a newline. */
function lineStartAtOrAfter(fd: number, offset: number, size: number): number {
  if (offset <= 0) return 0;
  const buffer = Buffer.allocUnsafe(64 * 1024);
  let at = offset - 1;
  while (at < size) {
    const n = readSync(fd, buffer, 0, buffer.length, at);
    if (n === 0) break;
    const newline = buffer.subarray(0, n).indexOf(10);
    if (newline >= 0) return at + newline + 1;
    at += n;
  }
  return size;
}

/** Sums a share of bytes held in memory (its lines all complete but maybe the last). */
export function parseBytesShare(share: BytesShare): EdgeLogResult {
  return parseEdgeLog(share.bytes, share.final);
}

/** Cuts bytes into `parts` shares at newlines (a share may be empty). */
export function cutAtNewlines(bytes: Uint8Array, parts: number): Uint8Array[] {
  const shares: Uint8Array[] = [];
  let from = 0;
  for (let i = 1; i <= parts; i++) {
    let to = i === parts ? bytes.length : Math.floor((bytes.length * i) / parts);
    if (to < bytes.length) {
      const newline = bytes.indexOf(10, Math.max(to - 1, from));
      to = newline < 0 ? bytes.length : newline + 1;
    }
    shares.push(bytes.subarray(from, Math.max(from, to)));
    from = Math.max(from, to);
  }
  return shares;
}
