import type { AddressInfo } from 'node:net';

/** What node:http's and ssh2's servers have in common for listening. */
interface Listener {
  listen(port: number, host: string, callback: () => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
  address(): AddressInfo | string | null;
}

/** Listens on host:port (0: any free port) and resolves to the port taken; rejects with the error (EADDRINUSE...). */
export async function listenOn(server: Listener, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}
