import { Writable } from 'node:stream';

/** Lines longer than this are cut into pieces: a host writing no newline cannot grow the gateway's memory. */
export const MAX_LINE_BYTES = 64 * 1024;

export interface LineSplitter {
  /** Feeds bytes; `onLine` gets each complete line, without its `\n` (nor a `\r` before it). */
  push(chunk: Buffer): void;
  /** Hands over what is left (a last line without `\n`). */
  end(): void;
}

/** Splits a byte stream into lines on `\n`, never cutting a multi-byte character except in an overlong line. */
export function splitLines(onLine: (line: Buffer) => void): LineSplitter {
  let pending = Buffer.alloc(0);
  const emit = (line: Buffer) => onLine(line.at(-1) === 0x0d ? line.subarray(0, -1) : line);
  return {
    push(chunk) {
      let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a)) {
        emit(data.subarray(0, nl));
        data = data.subarray(nl + 1);
      }
      while (data.length > MAX_LINE_BYTES) {
        emit(data.subarray(0, MAX_LINE_BYTES));
        data = data.subarray(MAX_LINE_BYTES);
      }
      pending = Buffer.from(data);
    },
    end() {
      if (pending.length > 0) emit(pending);
      pending = Buffer.alloc(0);
    },
  };
}

/** A Writable handing each chunk to `write` (a command's stdout into an SSH channel, or into a buffer). */
export function writable(write: (data: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      write(chunk);
      done();
    },
  });
}

/**
 * A Writable handing out whole lines (splitLines: a character split between
 * chunks stays whole; the last line at end()), each written once `emit`'s
 * promise resolves: a slow reader slows the writer down.
 */
export function lineWriter(emit: (line: string) => Promise<void>): Writable {
  let queued: string[] = [];
  const splitter = splitLines((line) => void queued.push(line.toString('utf8')));
  const drain = async (): Promise<void> => {
    const taken = queued;
    queued = [];
    for (const line of taken) await emit(line);
  };
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      splitter.push(chunk);
      drain().then(() => done(), done);
    },
    final(done) {
      splitter.end();
      drain().then(() => done(), done);
    },
  });
}

/**
 * One object of a streamed answer, as the client reads it: a JSON line, or
 * with `sse` one Server-Sent Event (a `data:` line). JSON has no raw line
 * break, so no text inside the object (a release hook's output, say) can
 * end the event or make one of its own.
 */
export function streamChunk(object: unknown, sse: boolean): string {
  return sse ? `data: ${JSON.stringify(object)}\n\n` : `${JSON.stringify(object)}\n`;
}
