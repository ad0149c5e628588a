/**
 * A limited number of things at once per key: `logs -f` per user, streams
 * per token. take() gives a release function, or undefined when the key
 * holds all its slots already; releasing twice frees one slot only.
 */
export class Slots {
  private readonly held = new Map<string, number>();

  constructor(readonly max: number) {}

  take(key: string): (() => void) | undefined {
    const count = this.held.get(key) ?? 0;
    if (count >= this.max) return undefined;
    this.held.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(key) ?? 1) - 1;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
    };
  }

  count(key: string): number {
    return this.held.get(key) ?? 0;
  }
}
