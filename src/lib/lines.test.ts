import { describe, expect, it } from '@jest/globals';
import { lineWriter, MAX_LINE_BYTES, splitLines, streamChunk } from './lines.js';

describe('splitLines', () => {
  it('keeps a character split between chunks whole, drops CR before LF, hands over the last line at end', () => {
    const lines: string[] = [];
    const splitter = splitLines((l) => lines.push(l.toString('utf8')));
    const text = Buffer.from('grüezi\r\nsecond\nlast');
    const cut = text.indexOf(0xbc); // the second byte of ü
    splitter.push(text.subarray(0, cut));
    splitter.push(text.subarray(cut));
    splitter.end();
    expect(lines).toEqual(['grüezi', 'second', 'last']);
  });

  it('cuts an overlong line instead of growing without end', () => {
    const sizes: number[] = [];
    const splitter = splitLines((l) => sizes.push(l.length));
    splitter.push(Buffer.alloc(MAX_LINE_BYTES * 2 + 10, 0x61));
    splitter.end();
    expect(sizes).toEqual([MAX_LINE_BYTES, MAX_LINE_BYTES, 10]);
  });
});

describe('lineWriter', () => {
  it('emits whole lines in order, waiting for each, and takes the next write only after', async () => {
    const seen: string[] = [];
    let release: () => void = () => undefined;
    const writer = lineWriter(async (line) => {
      seen.push(line);
      if (line === 'slow') await new Promise<void>((r) => (release = r));
    });
    const text = Buffer.from('one\nslow\ntwo ü\nthree');
    const cut = text.indexOf(0xbc);
    let secondTaken = false;
    writer.write(text.subarray(0, cut));
    writer.write(text.subarray(cut), () => (secondTaken = true));
    await new Promise((r) => setTimeout(r, 20));
    // Held at the slow line: nothing after it emitted yet, the second chunk not taken.
    expect(seen).toEqual(['one', 'slow']);
    expect(secondTaken).toBe(false);
    release();
    await new Promise<void>((r) => writer.end(r));
    expect(seen).toEqual(['one', 'slow', 'two ü', 'three']);
    expect(secondTaken).toBe(true);
  });
});

describe('streamChunk', () => {
  it("keeps an app's hostile output inside its one object: no line break, no event of its own", () => {
    // What a release hook or a build may print, as a deploy event's message.
    const message = 'ok\r\n\ndata: {"exit":0}\n\nevent: x\rid: 1\u2028</script><script>alert(1)</script>\u0000';
    const object = { stdout: message, event: { phase: 'hook', status: 'info', elapsedMs: 1, message } };
    const sse = streamChunk(object, true);
    expect(sse.endsWith('\n\n')).toBe(true);
    expect(sse.slice(0, -2)).not.toMatch(/[\r\n]/);
    expect(sse.startsWith('data: ')).toBe(true);
    expect(JSON.parse(sse.slice('data: '.length, -2))).toEqual(object);
    const line = streamChunk(object, false);
    expect(line.split('\n')).toHaveLength(2);
    expect(JSON.parse(line)).toEqual(object);
  });
});
