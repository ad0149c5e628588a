import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { MagratheaError } from '../../core/errors.js';
import { DumpHead, filterDumpLine, MAX_DDL_LINE, preview, type DumpFilterCounts } from '../../core/sql-dump.js';

/** The most db:import takes, uncompressed. */
export const MAX_IMPORT_BYTES = 1024 ** 3;

/** The input, gunzipped when it begins with gzip's magic bytes (1f 8b); else as it is. */
export async function* maybeGunzip(source: AsyncIterable<Buffer>, onGzip: () => void): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  while (head.length < 2) {
    const next = await it.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  const rest = (async function* () {
    if (head.length > 0) yield head;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  })();
  if (head[0] !== 0x1f || head[1] !== 0x8b) return yield* rest;
  onGzip();
  const gunzip = createGunzip();
  // Settled either way, awaited or not: a consumer that stops early leaves no rejection unhandled.
  const fed = pipeline(Readable.from(rest), gunzip).then(
    () => undefined,
    (e: Error) => e,
  );
  const damaged = (e: Error) => new MagratheaError(`db:import: the gzip input is damaged (${e.message}); nothing was imported`, 'bad-dump');
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (e) {
    throw damaged((await fed) ?? (e as Error));
  }
  const failed = await fed;
  if (failed) throw damaged(failed);
}

/**
 * The dump filter, byte for byte except where it changes a line: each
 * line's first bytes are read to drop or rewrite it (filterDumpLine); a
 * longer line (an INSERT of megabytes) passes as it comes. It fails, so
 * that nothing is applied, on a NUL byte (no dump has one: mariadb-dump
 * writes \0), on input that does not begin like a dump, and past `max`
 * bytes.
 */
export class DumpFilter extends Transform {
  readonly counts: DumpFilterCounts = { dropped: { 'create-database': 0, 'drop-database': 0, use: 0, 'server-variable': 0 }, definers: 0 };
  /** Within a dropped statement that spans lines. */
  private dropping = false;
  readonly head = new DumpHead();
  bytesIn = 0;
  bytesOut = 0;
  /** The input's first bytes, to show what it was. */
  private first = '';
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** In the middle of a long line: bytes pass until its newline. */
  private passing = false;

  constructor(private readonly max = MAX_IMPORT_BYTES) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      if (this.first.length < 32) this.first += chunk.subarray(0, 32 - this.first.length).toString('latin1');
      const nul = chunk.indexOf(0);
      if (nul >= 0) throw new MagratheaError(`db:import: this is not an SQL dump: a NUL byte at offset ${this.bytesIn + nul} (it begins ${preview(this.first)}); nothing was imported`, 'bad-dump');
      this.bytesIn += chunk.length;
      let at = 0;
      while (at < chunk.length) {
        const nl = chunk.indexOf(0x0a, at);
        const end = nl < 0 ? chunk.length : nl + 1;
        if (this.passing) {
          this.out(chunk.subarray(at, end));
          if (nl >= 0) this.passing = false;
        } else {
          this.pending.push(chunk.subarray(at, end));
          this.pendingLength += end - at;
          if (nl >= 0) this.line();
          else if (this.pendingLength > MAX_DDL_LINE) {
            // Too long to be DDL: judged by its start, then passed on as it comes.
            const start = Buffer.concat(this.pending);
            this.judge(start.toString('latin1'));
            this.out(start);
            this.pending = [];
            this.pendingLength = 0;
            this.passing = true;
          }
        }
        at = end;
      }
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.pendingLength > 0) this.line();
      const verdict = this.head.end();
      if (!verdict.ok) throw new MagratheaError(`db:import: this is not an SQL dump: ${verdict.problem}; nothing was imported`, 'bad-dump');
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  /** The pending line, whole (with its newline, if it has one). */
  private line(): void {
    const bytes = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingLength = 0;
    const newline = bytes.at(-1) === 0x0a;
    const text = bytes.subarray(0, newline ? -1 : undefined).toString('latin1');
    this.judge(text);
    if (this.dropping) {
      this.dropping = !/;\s*$/.test(text);
      return;
    }
    const action = filterDumpLine(text);
    if (action.action === 'keep') this.out(bytes);
    else if (action.action === 'drop') {
      this.counts.dropped[action.kind]++;
      this.dropping = action.continues === true;
    }
    else {
      this.counts.definers++;
      this.out(Buffer.from(`${action.line}${newline ? '\n' : ''}`, 'latin1'));
    }
  }

  /** The first statement decides whether this is a dump at all. */
  private judge(text: string): void {
    if (this.head.verdict) return;
    this.head.line(text.replace(/\r$/, ''));
    const verdict = this.head.verdict as DumpHead['verdict'];
    if (verdict && !verdict.ok) throw new MagratheaError(`db:import: this is not an SQL dump: ${verdict.problem}; nothing was imported`, 'bad-dump');
  }

  private out(bytes: Buffer): void {
    this.bytesOut += bytes.length;
    if (this.bytesOut > this.max) throw new MagratheaError(`db:import: the dump is over ${this.max} bytes uncompressed (the most db:import takes); nothing was imported`, 'too-big');
    this.push(bytes);
  }
}
