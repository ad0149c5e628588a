import { setTimeout as sleep } from 'node:timers/promises';

/** Polls until `check` is true; false when `timeoutMs` passed first. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}
