import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

/** One answer (or its absence) to one GET. */
export interface Hit {
  /** 0 when no answer came (refused, reset, timed out). */
  status: number;
  body: string;
  ms: number;
  error?: string;
}

/** A GET of `url` with that Host (the lab has no DNS), on a connection of its own, as a browser's first request is. */
export function get(url: string, host: string, timeoutMs = 15_000): Promise<Hit> {
  const began = performance.now();
  return new Promise((resolve) => {
    const done = (status: number, body: string, error?: string): void => resolve({ status, body, ms: performance.now() - began, ...(error ? { error } : {}) });
    const req = request(url, { headers: { Host: host, 'User-Agent': 'magrathea-zero-downtime' }, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(res.statusCode ?? 0, Buffer.concat(chunks).toString()));
      res.on('error', (e) => done(0, '', e.message));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (e) => done(0, '', e.message));
    req.end();
  });
}

export interface Target {
  url: string;
  host: string;
}

export interface StreamSummary {
  requests: number;
  /** Failures by status (`503`, or `no answer` for a connection that gave none), with how many. */
  failures: Record<string, number>;
  failed: number;
  slowestMs: number;
  /** The first few failures, to show what they were. */
  examples: string[];
}

/**
 * A steady stream of short requests: `concurrency` loops, each asking the
 * targets in turn, one request after the other, with `pauseMs` between two,
 * until stop() or `maxRequests` in all (bounded, whatever the deploys do).
 */
export class RequestStream {
  private running = true;
  private readonly hits: { target: Target; hit: Hit }[] = [];
  private readonly loops: Promise<void>[];

  constructor(
    private readonly targets: Target[],
    concurrency: number,
    private readonly pauseMs: number,
    private readonly maxRequests = 100_000,
  ) {
    this.loops = Array.from({ length: concurrency }, (_, i) => this.loop(i));
  }

  private async loop(offset: number): Promise<void> {
    for (let i = offset; this.running && this.hits.length < this.maxRequests; i++) {
      const target = this.targets[i % this.targets.length]!;
      this.hits.push({ target, hit: await get(`${target.url}/?stream=${i}`, target.host) });
      if (this.pauseMs > 0) await new Promise((r) => setTimeout(r, this.pauseMs));
    }
  }

  /** Requests answered so far. */
  get count(): number {
    return this.hits.length;
  }

  async stop(): Promise<StreamSummary> {
    this.running = false;
    await Promise.all(this.loops);
    return summarize(this.hits);
  }
}

export function summarize(hits: { target: Target; hit: Hit }[]): StreamSummary {
  const failures: Record<string, number> = {};
  const examples: string[] = [];
  let slowestMs = 0;
  for (const { target, hit } of hits) {
    slowestMs = Math.max(slowestMs, hit.ms);
    if (hit.status === 200) continue;
    const key = hit.status === 0 ? 'no answer' : String(hit.status);
    failures[key] = (failures[key] ?? 0) + 1;
    if (examples.length < 5) examples.push(`${target.url} (Host: ${target.host}): ${hit.status || hit.error} ${hit.body.slice(0, 120).replaceAll('\n', ' ')}`);
  }
  return { requests: hits.length, failures, failed: Object.values(failures).reduce((a, b) => a + b, 0), slowestMs, examples };
}

/** `503: 2, no answer: 1`, or `none`. */
export function formatFailures(failures: Record<string, number>): string {
  const list = Object.entries(failures).map(([k, v]) => `${k}: ${v}`);
  return list.length > 0 ? list.join(', ') : 'none';
}
