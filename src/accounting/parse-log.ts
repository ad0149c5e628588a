import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { mergeSums, type EdgeLogResult } from '../core/accounting/parser.js';
import { cutAtNewlines, parseBytesShare, parseFileShares, type BytesShare } from './parse-parts.js';

/**
 * Below this, an input is summed on the calling thread: a worker costs
 * about 30 ms to start, the time to sum some 60 MiB. The accounting job's
 * reads (32 MiB at most) stay below it.
 */
export const THREADS_FROM_BYTES = 64 * 1024 * 1024;

export interface ParseLogOptions {
  /** Threads to use for a large input, this one included. Default: the machine's parallelism, at most 8. */
  threads?: number;
}

export interface ParseLogResult extends EdgeLogResult {
  /** Threads that summed it (1: no worker was started). */
  threads: number;
}

/** Sums an edge log file, in worker threads when it is large. */
export async function parseEdgeLogFile(path: string, options: ParseLogOptions = {}): Promise<ParseLogResult> {
  const { size } = await stat(path);
  const threads = threadsFor(size, options);
  // Parts of about 16 MiB, at least 8 per thread: threads that start late take fewer.
  const count = threads === 1 ? 1 : Math.max(threads * 8, Math.ceil(size / (16 * 1024 * 1024)));
  const parts = Array.from({ length: count }, (_, i) => ({ from: Math.floor((size * i) / count), to: i === count - 1 ? size : Math.floor((size * (i + 1)) / count) }));
  const counter = new SharedArrayBuffer(4);
  const next = new Int32Array(counter);
  const workers = Array.from({ length: threads - 1 }, () => onWorker({ file: { path, parts }, counter }));
  // This thread takes parts too, while the workers start; their results wait in the queue until it is done.
  const here = parseFileShares({ path, parts }, () => Atomics.add(next, 0, 1));
  const results = [here, ...(await Promise.all(workers))];
  return { ...mergeSums(results), consumed: size, threads };
}

/**
 * Sums an edge log held in memory, in worker threads when it is large.
 * `final`: the input ends with it (its last line counts without a newline).
 */
export async function parseEdgeLogBytes(bytes: Uint8Array, final: boolean, options: ParseLogOptions = {}): Promise<ParseLogResult> {
  const threads = threadsFor(bytes.length, options);
  if (threads === 1) return { ...parseBytesShare({ bytes, final }), threads };
  const cuts = cutAtNewlines(bytes, threads);
  const results = await runShares(cuts.map((share, i): BytesShare => ({ bytes: share, final: final && i === cuts.length - 1 })));
  const consumed = cuts.slice(0, -1).reduce((n, c) => n + c.length, 0) + results.at(-1)!.consumed;
  return { ...mergeSums(results), consumed, threads };
}

function threadsFor(size: number, options: ParseLogOptions): number {
  if (size < THREADS_FROM_BYTES) return 1;
  const wanted = options.threads ?? Math.min(availableParallelism(), 8);
  return Math.max(1, Math.min(wanted, Math.ceil(size / (THREADS_FROM_BYTES / 4))));
}

/** The last share on this thread, the others each on a worker thread started first. */
async function runShares(shares: BytesShare[]): Promise<EdgeLogResult[]> {
  const workers = shares.slice(0, -1).map((share) => onWorker({ bytes: share }));
  const last = parseBytesShare(shares.at(-1)!);
  return [...(await Promise.all(workers)), last];
}

function onWorker(data: { file: { path: string; parts: { from: number; to: number }[] }; counter: SharedArrayBuffer } | { bytes: BytesShare }): Promise<EdgeLogResult> {
  return new Promise((resolve, reject) => {
    // A view is cloned with its whole buffer: send a copy of the share alone (a Buffer's slice() would be a view), moved rather than copied again.
    const sent = 'bytes' in data ? { bytes: { ...data.bytes, bytes: new Uint8Array(data.bytes.bytes) } } : data;
    const worker = new Worker(workerScript(), { workerData: sent, transferList: 'bytes' in sent ? [sent.bytes.bytes.buffer as ArrayBuffer] : [] });
    worker.once('message', (result: EdgeLogResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`edge log worker exited with ${code} before its result`)));
  });
}

/** The compiled worker: beside this module, or, when this runs from the TypeScript sources (tests), the build's. */
function workerScript(): URL {
  const beside = new URL('./parse-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL('../../dist/src/accounting/parse-worker.js', import.meta.url);
}
