import { performance } from 'node:perf_hooks';
import { run } from '../../src/adapters/exec.js';

export interface CurlResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Past this, an answer is reported on stderr (not failed): a web host of the
 * shared lab waits for its longest request in flight (another suite's, such
 * as WordPress's installer on a loaded machine) when a deploy reloads its
 * PHP-FPM, and every pool of the host waits with it.
 */
const SLOW_MS = 5_000;

/** A GET with the real curl, with the Host header given (the lab has no DNS). */
export async function curl(url: string, host?: string): Promise<CurlResponse> {
  const args = ['-s', '-S', '-i', '--max-time', '30', ...(host ? ['-H', `Host: ${host}`] : []), url];
  const began = performance.now();
  const { stdout } = await run('curl', args);
  const ms = performance.now() - began;
  if (ms > SLOW_MS) process.stderr.write(`curl: ${url} (Host: ${host ?? '-'}) answered in ${(ms / 1000).toFixed(1)} s\n`);
  const split = stdout.indexOf('\r\n\r\n');
  const head = stdout.slice(0, split);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine?.split(' ')[1]), headers, body: stdout.slice(split + 4) };
}
