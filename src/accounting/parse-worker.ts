import { parentPort, workerData } from 'node:worker_threads';
import { parseBytesShare, parseFileShares, type BytesShare, type FileShares } from './parse-parts.js';

/** A worker thread of parseEdgeLogFile / parseEdgeLogBytes: sums its share (or the parts it takes), posts the result, ends. */
const data = workerData as { file: FileShares; counter: SharedArrayBuffer } | { bytes: BytesShare };
if ('file' in data) {
  const counter = new Int32Array(data.counter);
  parentPort!.postMessage(parseFileShares(data.file, () => Atomics.add(counter, 0, 1)));
} else {
  parentPort!.postMessage(parseBytesShare(data.bytes));
}
