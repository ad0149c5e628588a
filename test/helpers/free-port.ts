import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 at the time of asking (the OS's pick). */
export function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => done(p));
    });
  });
}
