/**
 * Requests per minute per key (HTTP API tokens), as a bucket of `perMinute`
 * requests that refills continuously: a burst of `perMinute` at once, then
 * one every 60/perMinute seconds. take() says 0 when the request may go,
 * or how many seconds until it could (Retry-After). The clock is given, so
 * that the arithmetic is tested without waiting.
 */
export class RateLimit {
  private readonly buckets = new Map<string, { left: number; at: number }>();

  constructor(readonly perMinute: number) {}

  take(key: string, nowMs: number): number {
    const rate = this.perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { left: this.perMinute, at: nowMs };
    bucket.left = Math.min(this.perMinute, bucket.left + (nowMs - bucket.at) * rate);
    bucket.at = nowMs;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 10_000) this.forgetFull(nowMs);
    if (bucket.left >= 1) {
      bucket.left -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.left) / rate / 1000);
  }

  /** Buckets refilled by now carry nothing a new one would not: dropped, so that many tokens do not grow the map for ever. */
  private forgetFull(nowMs: number): void {
    for (const [key, b] of this.buckets) if (b.left + (nowMs - b.at) * (this.perMinute / 60_000) >= this.perMinute) this.buckets.delete(key);
  }
}
