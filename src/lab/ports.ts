import { createConnection, createServer, type NetConnectOpts } from 'node:net';
import { run } from '../adapters/exec.js';
import { MagratheaError } from '../core/errors.js';

/**
 * Fails with a message naming the address, the port and, when it can be
 * found, the program holding it, instead of letting a daemon die with its
 * own words in a log. A daemon bound to 0.0.0.0 (a distribution's sshd or
 * Apache) takes the port on every 127.x address too.
 */
export async function assertPortFree(address: string, port: number, what: string): Promise<void> {
  const error = await tryBind(address, port);
  if (!error) return;
  const holder = await portHolder(address, port);
  const reason = error === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${error})`;
  throw new MagratheaError(
    `${what}: ${address}:${port} ${reason}${holder ? ` by ${holder}` : ''}; stop that program (a system service listening on 0.0.0.0:${port}, or another lab: \`magrathea lab down --dir ...\`) or bring the lab up on other addresses with --subnet`,
    'lab-port-taken',
  );
}

function tryBind(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** `sshd (pid 123) listening on 0.0.0.0:22`, from ss(8), or undefined. */
async function portHolder(address: string, port: number): Promise<string | undefined> {
  const result = await run('ss', ['-H', '-l', '-t', '-n', '-p'], { reject: false });
  const conflicting = [`${address}:${port}`, `0.0.0.0:${port}`, `*:${port}`, `[::]:${port}`];
  for (const line of result.stdout.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    if (!local || !conflicting.includes(local)) continue;
    const proc = /users:\(\("([^"]+)",pid=([0-9]+)/.exec(line);
    return proc ? `${proc[1]} (pid ${proc[2]}) listening on ${local}` : `a program listening on ${local}`;
  }
  return undefined;
}

/** Whether something accepts TCP connections at address:port within `timeoutMs`. */
export function probePort(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return probeConnection({ host: address, port }, timeoutMs);
}

/** Whether something accepts a connection (TCP or unix socket) within `timeoutMs`; the connection is closed at once. */
export function probeConnection(target: NetConnectOpts, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(target);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

