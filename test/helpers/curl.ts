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

/**
 * A GET with the real curl, with the Host header given (the lab has no DNS).
 * A request that gets no answer in 20 s is reported on stderr with what the
 * lab's daemons were doing, and asked once more: CI has seen, once in a few
 * runs, a request through the edge right after a deploy get no byte for
 * 10 to 30 s, cause not found yet (see the report when it happens). A
 * second silence fails the test, with the same report.
 */
export async function curl(url: string, host?: string): Promise<CurlResponse> {
  const ask = (seconds: number) => run('curl', ['-s', '-S', '-i', '--max-time', String(seconds), ...(host ? ['-H', `Host: ${host}`] : []), url], { reject: false });
  const began = performance.now();
  let answered = await ask(20);
  if (answered.exitCode === 28) {
    process.stderr.write(`STALL: ${url} (Host: ${host ?? '-'}) gave no answer in 20 s; asking again\n${await daemons()}\n`);
    answered = await ask(30);
    if (answered.exitCode === 28) throw new Error(`${answered.stderr.trim()} (${url}, Host: ${host ?? '-'}), twice\n${await daemons()}`);
  }
  if (answered.exitCode !== 0) throw new Error(`curl ${url} (Host: ${host ?? '-'}) exited ${answered.exitCode}: ${answered.stderr.trim()}`);
  const { stdout } = answered;
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

/** The web and edge daemons of every lab of this machine, with their state and age: which one held a request. */
async function daemons(): Promise<string> {
  const ps = await run('ps', ['-eo', 'pid,ppid,etimes,stat,wchan:20,args', '--sort=start_time'], { reject: false });
  const lines = ps.stdout.split('\n').filter((l) => /php-fpm|apache2|varnishd|haproxy/.test(l));
  // Where the request waits: the TCP connections between the lab's daemons (with their timers) and the
  // listening sockets with a queue (Recv-Q: connections not yet accepted, such as a PHP-FPM pool's).
  const tcp = await run('ss', ['-tnpoH', 'state', 'all'], { reject: false });
  const connections = tcp.stdout.split('\n').filter((l) => /127\.0\.(?!0\.)\d+\.\d+/.test(l) && !/^(LISTEN|TIME-WAIT)/.test(l));
  const listening = await run('ss', ['-lnpH'], { reject: false });
  const queued = listening.stdout.split('\n').filter((l) => /^\S+\s+LISTEN\s+[1-9]/.test(l));
  return [
    `the lab's daemons (pid ppid seconds state wchan command), the newest last:\n${lines.slice(-60).join('\n')}`,
    `their TCP connections (state recv-q send-q local peer process timer):\n${connections.slice(-80).join('\n') || '(none)'}`,
    `listening sockets with connections not accepted yet:\n${queued.join('\n') || '(none)'}`,
  ].join('\n');
}
