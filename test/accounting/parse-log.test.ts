import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEdgeLogBytes, parseEdgeLogFile, THREADS_FROM_BYTES } from '../../src/accounting/parse-log.js';
import { parseEdgeLog } from '../../src/core/accounting/parser.js';

/**
 * Large inputs are summed by worker threads (the build's worker script:
 * `npm test` builds before jest runs), small ones on the calling thread;
 * either way the sums are those of one parser reading it all.
 */
let dir: string;
let log: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'magrathea-parse-log-'));
  // A bit more than the threshold: lines of 40 instances over 30 hours, a few malformed, no newline at the end.
  const lines: string[] = [];
  for (let i = 0; lines.join('\n').length < 200_000; i++) {
    lines.push(i % 997 === 0 ? 'garbage' : `${1767225600 + i * 3} app${i % 40}_production ${[200, 304, 404, 503][i % 4]} ${300 + (i % 700)} ${1000 + i} hit "1.2.3.4, 127.0.0.1" "GET /${i} HTTP/1.1" "h" "-" "ua"`);
  }
  const block = lines.join('\n') + '\n';
  log = Buffer.from(block.repeat(Math.ceil((THREADS_FROM_BYTES * 1.2) / block.length)) + '1767225600 app1_production 200 1 1');
  await writeFile(join(dir, 'edge.log'), log);
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('parsing large edge logs', () => {
  it('sums a large file in threads exactly as one parser does', async () => {
    const one = parseEdgeLog(log, true);
    const threads = await parseEdgeLogFile(join(dir, 'edge.log'), { threads: 3 });
    expect(threads.threads).toBe(3);
    expect({ ...threads, threads: 0 }).toEqual({ ...one, threads: 0 });
  }, 60_000);

  it('sums large bytes in threads, and small ones without', async () => {
    const open = parseEdgeLog(log, false);
    const threaded = await parseEdgeLogBytes(log, false, { threads: 2 });
    expect(threaded.threads).toBe(2);
    expect({ ...threaded, threads: 0 }).toEqual({ ...open, threads: 0 });
    const small = log.subarray(0, 100_000);
    expect(await parseEdgeLogBytes(small, true)).toEqual({ ...parseEdgeLog(small, true), threads: 1 });
  }, 60_000);
});
