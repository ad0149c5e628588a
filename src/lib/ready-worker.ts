import type { Queue, Worker } from 'bullmq';

/**
 * Waits until a BullMQ worker is ready, its errors (a lost connection...)
 * going to `onError`, and returns how to close it: the worker stops taking
 * jobs and, unless `force`, waits for those it runs; then `queue`, the one
 * its owner opened beside it, closes. Called again, close returns the first
 * call's promise.
 */
export async function readyWorker(worker: Worker, queue: Queue, onError: (error: Error) => void): Promise<(options?: { force?: boolean }) => Promise<void>> {
  worker.on('error', onError);
  await worker.waitUntilReady();
  let closing: Promise<void> | undefined;
  return (options) => (closing ??= (async () => {
    await worker.close(options?.force ?? false);
    await queue.close();
  })());
}
