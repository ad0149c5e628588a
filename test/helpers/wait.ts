/**
 * Polls `probe` (every 100 ms) until it gives a value other than undefined
 * or false; on timeout, the error says what was awaited and, if given,
 * what `detail` shows then.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000, detail?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `; ${await detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
