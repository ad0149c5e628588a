import { run } from '../../src/adapters/exec.js';

export interface CurlResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A GET with the real curl, with the Host header given (the lab has no DNS). */
export async function curl(url: string, host?: string): Promise<CurlResponse> {
  const args = ['-s', '-S', '-i', '--max-time', '10', ...(host ? ['-H', `Host: ${host}`] : []), url];
  const { stdout } = await run('curl', args);
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
