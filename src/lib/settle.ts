/**
 * Runs `fn` for every item at once and waits for all of them, even when
 * one fails early, then throws the first failure. Promise.all would return
 * on the first failure while the other hosts are still booting or
 * stopping, and the lab's lock would be released under their feet.
 */
export async function forEachSettled<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = await Promise.allSettled(items.map(fn));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<R>).value);
}
