/**
 * BullMQ, loaded when a queue is first opened rather than when a command
 * starts: it is the largest part of the command line's start (about half a
 * second of CPU here), and most commands never touch a queue.
 */
export function loadBullmq(): Promise<typeof import('bullmq')> {
  return import('bullmq');
}
