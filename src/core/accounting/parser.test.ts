import { describe, expect, it } from '@jest/globals';
import { MAX_IDS, MAX_SLOTS, WINDOW } from './kernel.js';
import { EdgeLogParser, mergeSums, parseEdgeLog, STATUS_CLASSES, type EdgeLogResult, type TrafficRow } from './parser.js';

/**
 * The parser's meaning, written plainly (a string per line, a regex per
 * field): every test compares the kernel against it.
 */
function reference(bytes: Uint8Array, final: boolean): EdgeLogResult {
  const text = Buffer.from(bytes).toString('latin1');
  const rows = new Map<string, TrafficRow>();
  let lines = 0;
  let malformed = 0;
  let consumed = 0;
  let at = 0;
  for (;;) {
    const newline = text.indexOf('\n', at);
    if (newline < 0 && (!final || at >= text.length)) break;
    const line = text.slice(at, newline < 0 ? text.length : newline);
    at = newline < 0 ? text.length : newline + 1;
    consumed = at;
    lines++;
    const m = line.length >= WINDOW ? null : /^([0-9]{1,12}) ([a-z0-9_-]{1,81}) ([0-9]{3}) ([0-9]{1,15}) ([0-9]{1,15})(?: |$)/.exec(line);
    if (!m) {
      malformed++;
      continue;
    }
    const [, time, ident, status, bytesIn, bytesOut] = m as unknown as string[];
    const hour = Math.floor(Number(time) / 3600);
    const key = `${ident} ${hour}`;
    const row = rows.get(key) ?? { ident: ident!, hour, requests: 0, bytesIn: 0, bytesOut: 0, status: STATUS_CLASSES.map(() => 0) };
    rows.set(key, row);
    row.requests++;
    row.bytesIn += Number(bytesIn);
    row.bytesOut += Number(bytesOut);
    const cls = Math.floor(Number(status) / 100);
    row.status[cls >= 1 && cls <= 5 ? cls - 1 : 5]!++;
  }
  const sorted = [...rows.values()].sort((a, b) => (a.ident < b.ident ? -1 : a.ident > b.ident ? 1 : a.hour - b.hour));
  return { rows: sorted, lines, malformed, overflow: 0, consumed };
}

/** A small deterministic random source (tests must not flake). */
function random(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

const LINE = '1767225601 shop_production 200 712 29256 miss "203.0.113.7, 127.0.1.3" "GET /a HTTP/1.1" "shop.example.com" "-" "curl/8"';

/** A mix of good lines and every way a line can be wrong. */
function corpus(seed: number, count: number): Buffer {
  const r = random(seed);
  const idents = ['shop_production', 'shop_staging', 'blog_production', 'a_b', 'x'.repeat(40) + '_' + 'y'.repeat(40), '-', 'shop-x_production'];
  const pieces: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = String(1767225600 + r(20000));
    const ident = idents[r(idents.length)]!;
    const status = String([200, 204, 301, 304, 404, 500, 503, 101, 999, 0][r(10)]).padStart(3, '0');
    const good = `${t} ${ident} ${status} ${r(100000)} ${r(10_000_000)}`;
    switch (r(24)) {
      case 0: pieces.push(''); break;
      case 1: pieces.push(`${good}`); break; // five fields only
      case 2: pieces.push(good.replace(' ', '  ')); break;
      case 3: pieces.push(good.replace(ident, ident.toUpperCase() || 'X')); break;
      case 4: pieces.push(good.replace(ident, 'é_production')); break;
      case 5: pieces.push(good.replace(ident, 'foo bar')); break;
      case 6: pieces.push(`${'9'.repeat(13)} shop_production 200 1 1 x`); break;
      case 7: pieces.push(`${t} shop_production 20 1 1 x`); break;
      case 8: pieces.push(`${t} shop_production 2000 1 1 x`); break;
      case 9: pieces.push(`${t} shop_production 200 ${'1'.repeat(16)} 1 x`); break;
      case 10: pieces.push(`${t} shop_production 200 1 ${'7'.repeat(13)} x`); break;
      case 11: pieces.push(`${t} shop_production 200 - 1 x`); break;
      case 12: pieces.push(`${t} ${'z'.repeat(82)} 200 1 1 x`); break;
      case 13: pieces.push(`\u0000\u00ff\r\t${good}`); break;
      case 14: pieces.push(`${good}\r`); break;
      case 15: pieces.push(`${t.slice(0, 5)} shop_production 200 1 1`); break;
      case 16: pieces.push(`${good} ${'"'.repeat(r(300))}\u0000\u00ff`); break;
      case 17: pieces.push(`${t} shop_production 200 12345678901234 1 ${'x'.repeat(r(40))}`); break;
      default: pieces.push(`${good} hit "${'a'.repeat(r(400))}" "GET / HTTP/1.1" "h" "-" "ua"`);
    }
  }
  return Buffer.from(pieces.join('\n') + (r(2) ? '\n' : ''), 'latin1');
}

/** Feeds bytes in random pieces. */
function parseInPieces(bytes: Uint8Array, final: boolean, seed: number): EdgeLogResult {
  const r = random(seed);
  const parser = new EdgeLogParser();
  let at = 0;
  while (at < bytes.length) {
    const n = Math.min(bytes.length - at, 1 + r(r(4) === 0 ? 3_000_000 : 300));
    parser.write(bytes.subarray(at, at + n));
    at += n;
  }
  return parser.end(final);
}

describe('the edge log parser', () => {
  it('reads the five fields of each line and sums them per instance and hour', () => {
    const log = [
      LINE,
      LINE.replace('200 712 29256', '304 100 200'),
      LINE.replace('1767225601', '1767229200').replace('shop_production', 'blog_production').replace('200 712', '503 1'),
      '1767225601 - 404 80 400 synth "x" "GET / HTTP/1.1" "nowhere.example" "-" "-"',
      '',
    ].join('\n');
    const result = parseEdgeLog(Buffer.from(log));
    expect(result).toEqual({
      rows: [
        { ident: '-', hour: 490896, requests: 1, bytesIn: 80, bytesOut: 400, status: [0, 0, 0, 1, 0, 0] },
        { ident: 'blog_production', hour: 490897, requests: 1, bytesIn: 1, bytesOut: 29256, status: [0, 0, 0, 0, 1, 0] },
        { ident: 'shop_production', hour: 490896, requests: 2, bytesIn: 812, bytesOut: 29456, status: [0, 1, 1, 0, 0, 0] },
      ],
      lines: 4,
      malformed: 0,
      overflow: 0,
      consumed: Buffer.byteLength(log),
    });
  });

  it('leaves a partial last line for the next read, unless the input is final', () => {
    const log = `${LINE}\n${LINE.slice(0, 40)}`;
    const open = parseEdgeLog(Buffer.from(log));
    expect(open).toMatchObject({ lines: 1, consumed: LINE.length + 1 });
    expect(open.rows[0]!.requests).toBe(1);
    const final = parseEdgeLog(Buffer.from(log), true);
    expect(final).toMatchObject({ lines: 2, malformed: 0, consumed: log.length });
    expect(final.rows[0]!.requests).toBe(2);
    // Cut inside the fields: malformed when final, left over when not.
    expect(parseEdgeLog(Buffer.from(`${LINE}\n1767225601 shop_produ`), true)).toMatchObject({ lines: 2, malformed: 1 });
    expect(parseEdgeLog(Buffer.from(`${LINE}\n1767225601 shop_produ`))).toMatchObject({ lines: 1, malformed: 0, consumed: LINE.length + 1 });
  });

  it('counts nothing in empty input', () => {
    for (const final of [false, true]) {
      expect(parseEdgeLog(new Uint8Array(0), final)).toEqual({ rows: [], lines: 0, malformed: 0, overflow: 0, consumed: 0 });
    }
    expect(parseEdgeLog(Buffer.from('\n\n'))).toEqual({ rows: [], lines: 2, malformed: 2, overflow: 0, consumed: 2 });
  });

  it('agrees with the plain reading on odd bytes, broken fields and any split of the input', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const bytes = corpus(seed, 400);
      for (const final of [false, true]) {
        const expected = reference(bytes, final);
        expect(parseEdgeLog(bytes, final)).toEqual(expected);
        expect(parseInPieces(bytes, final, seed)).toEqual(expected);
      }
    }
  });

  it('skips a line of a megabyte or more, counting it malformed once, and reads on', () => {
    const huge = `1767225601 shop_production 200 1 1 "${'x'.repeat(WINDOW + 12345)}"`;
    const bytes = Buffer.from(`${LINE}\n${huge}\n${LINE}\n`);
    const expected = reference(bytes, false);
    expect(expected).toMatchObject({ lines: 3, malformed: 1 });
    expect(parseEdgeLog(bytes)).toEqual(expected);
    expect(parseInPieces(bytes, false, 7)).toEqual(expected);
    // Still being written: not counted, not consumed.
    const open = parseEdgeLog(Buffer.from(`${LINE}\n${huge}`));
    expect(open).toMatchObject({ lines: 1, malformed: 0, consumed: LINE.length + 1 });
    expect(parseEdgeLog(Buffer.from(`${LINE}\n${huge}`), true)).toMatchObject({ lines: 2, malformed: 1, consumed: LINE.length + 1 + huge.length });
    // Just under the window: an ordinary line.
    const long = `1767225601 shop_production 200 1 1 "${'x'.repeat(WINDOW - 40)}"`;
    expect(long.length).toBeLessThan(WINDOW);
    expect(parseEdgeLog(Buffer.from(`${long}\n`)).rows[0]!.requests).toBe(1);
  });

  it('tells names apart by their bytes, not their hash, and counts names past its room as overflow', () => {
    // Same length, same first and last 8 bytes: the hash cannot tell them apart, the comparison does.
    const names = ['aaaaaaaa-1-bbbbbbbb_p', 'aaaaaaaa-2-bbbbbbbb_p', 'aaaaaaaa-3-bbbbbbbb_p'];
    const log = names.map((n, i) => `1767225601 ${n} 200 ${i + 1} 1\n`).join('').repeat(3);
    expect(parseEdgeLog(Buffer.from(log)).rows.map((r) => [r.ident, r.bytesIn])).toEqual([[names[0], 3], [names[1], 6], [names[2], 9]]);
    const many = Array.from({ length: MAX_IDS + 5 }, (_, i) => `1767225601 app${i}_p 200 1 1\n`).join('');
    expect(parseEdgeLog(Buffer.from(many))).toMatchObject({ lines: MAX_IDS + 5, overflow: 5, malformed: 0 });
  });

  it('takes the sums out of the kernel when its instance-hours fill up, and goes on', () => {
    const hours = MAX_SLOTS + 1000;
    const log = Array.from({ length: hours * 2 }, (_, i) => `${1767225600 + (i % hours) * 3600} a_p 200 ${i} 1 hit\n`).join('');
    const result = parseEdgeLog(Buffer.from(log));
    expect(result).toMatchObject({ lines: hours * 2, malformed: 0 });
    expect(result.rows).toHaveLength(hours);
    expect(result.rows.every((r, i) => r.requests === 2 && r.bytesIn === 2 * i + hours && r.hour === 490896 + i)).toBe(true);
  });

  it('keeps exact sums of large byte counts', () => {
    const log = `1767225601 big_production 200 999999999999999 999999999999999\n`.repeat(9);
    expect(parseEdgeLog(Buffer.from(log)).rows[0]!.bytesOut).toBe(8999999999999991);
  });

  it('merges the sums of parts as if they were one input', () => {
    const bytes = corpus(99, 3000);
    const cut = bytes.indexOf(10, bytes.length >> 1) + 1;
    const { rows, lines, malformed, overflow } = parseEdgeLog(bytes, true);
    const parts = [parseEdgeLog(bytes.subarray(0, cut), true), parseEdgeLog(bytes.subarray(cut), true)];
    expect(mergeSums(parts)).toEqual({ rows, lines, malformed, overflow });
  });
});
