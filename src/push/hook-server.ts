import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join, relative, resolve } from 'node:path';
import type { GatewayContext } from '../dispatch/context.js';
import { MAX_INPUT_BYTES, MAX_REQUEST_BYTES, replyLine, SOCKET_ENV, TOKEN_ENV, type HookReply, type HookRequest } from './hook-wire.js';
import { hookPush, QUARANTINE_ENV, runHook, type HookName } from './receive.js';

/** The most bytes a unix socket's path may have (sun_path, less its NUL). */
const MAX_SOCKET_PATH = 107;

/** A push the gateway let in: what its hooks run for, whatever they say. */
interface Registered {
  app: string;
  gitDir: string;
  pusher: string;
}

export interface HookServer {
  /** The socket's path. */
  path: string;
  /** The environment to give one git-receive-pack (its hooks inherit it and come back with it); release() once it has ended. */
  register(push: Registered): { env: Record<string, string>; release(): void };
  /** Stops listening and drops the hooks still connected: they reject their push and end. */
  close(): Promise<void>;
}

/**
 * The gateway's side of the git hooks (cli/hook.ts): a unix socket in the
 * state directory (`run/hooks.sock`, in a directory only the gateway's
 * user may enter), where each hook of a push the SSH server let in hands
 * over its input and gets back what to say and its exit code. The hook
 * runs here, on the gateway's Redis connections and deploy queue. A hook
 * is known by the secret the SSH server gave its git-receive-pack, which
 * names the app, the repository and the pusher: nothing the hook sends
 * can name others. Undefined (and the hooks run in their own processes,
 * as before) when the state directory's path is too long for a socket.
 */
export async function startHookServer(gateway: GatewayContext, log: (line: string) => void): Promise<HookServer | undefined> {
  const dir = join(resolve(gateway.config.gateway.stateDir), 'run');
  const path = join(dir, 'hooks.sock');
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    log(`git hooks: ${path} is longer than a unix socket's path may be (${MAX_SOCKET_PATH} bytes): each hook runs in a process of its own`);
    return undefined;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stats = await lstat(dir);
  if (!stats.isDirectory() || stats.uid !== process.getuid?.()) throw new Error(`${dir}: not a directory of the gateway's own user`);
  await chmod(dir, 0o700);
  // Left by a gateway that did not stop cleanly.
  await rm(path, { force: true });

  const pushes = new Map<string, Registered>();
  const sockets = new Set<Socket>();
  // Aborted by close(): the hooks still running stop following their deploys, so that a stopping gateway ends.
  const stopping = new AbortController();
  // Half-open: the hook ends its side once its input is sent, and reads the answer after.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    void serveHook(socket, pushes, gateway, stopping.signal).catch((e: Error) => {
      log(`git hooks: ${e.message}`);
      socket.destroy();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(path, () => {
      server.off('error', fail);
      done();
    });
  });
  await chmod(path, 0o600);

  return {
    path,
    register(push) {
      const token = randomBytes(24).toString('base64url');
      pushes.set(token, { ...push, gitDir: resolve(push.gitDir) });
      return { env: { [SOCKET_ENV]: path, [TOKEN_ENV]: token }, release: () => void pushes.delete(token) };
    },
    async close() {
      const closed = new Promise<void>((done) => server.close(() => done()));
      stopping.abort(new Error('the gateway stopped'));
      for (const socket of sockets) socket.destroy();
      await closed;
      await rm(path, { force: true });
    },
  };
}

/** One hook's connection: its request and input, the hook run, its lines and exit code back. */
async function serveHook(socket: Socket, pushes: ReadonlyMap<string, Registered>, gateway: GatewayContext, signal: AbortSignal): Promise<void> {
  const reply = (r: HookReply) => {
    if (!socket.destroyed) socket.write(replyLine(r));
  };
  const refuse = (message: string) => {
    reply({ say: `magrathea: ${message}: push rejected` });
    reply({ exit: 1 });
    socket.end();
  };
  const received = await readRequest(socket);
  if ('error' in received) return refuse(received.error);
  const { request, input } = received;
  const registered = pushes.get(String(request.token));
  if (!registered) return refuse('this hook belongs to no push of the gateway');
  if (request.hook !== 'pre-receive' && request.hook !== 'post-receive') return refuse(`no hook ${JSON.stringify(request.hook)}`);
  if (!Number.isInteger(request.receivePackPid) || request.receivePackPid <= 1) return refuse('no git-receive-pack named');
  const env = typeof request.env === 'object' && request.env !== null ? request.env : {};
  const stray = quarantineOutside(registered.gitDir, env);
  if (stray) return refuse(`${stray} is not in the app's repository`);

  const push = hookPush({ ...registered, receivePackPid: request.receivePackPid, env, say: (line) => reply({ say: line }), signal });
  let exit: number;
  try {
    exit = await runHook(gateway, request.hook as HookName, push, input);
  } catch (e) {
    reply({ say: `magrathea hook ${request.hook}: unexpected error: ${(e as Error).message}` });
    exit = 1;
  }
  reply({ exit });
  socket.end();
}

/** The first line (the request) and everything after it until the hook ends its side (the input), each within its limit. */
function readRequest(socket: Socket): Promise<{ request: HookRequest; input: string } | { error: string }> {
  return new Promise((done) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: { request: HookRequest; input: string } | { error: string }) => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      done(result);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES + MAX_INPUT_BYTES) finish({ error: `more than ${MAX_INPUT_BYTES} bytes of refs` });
    };
    const onEnd = () => {
      const all = Buffer.concat(chunks);
      const nl = all.indexOf(10);
      if (nl < 0 || nl > MAX_REQUEST_BYTES) return finish({ error: 'the hook sent no request' });
      try {
        finish({ request: JSON.parse(all.subarray(0, nl).toString('utf8')) as HookRequest, input: all.subarray(nl + 1).toString('utf8') });
      } catch {
        finish({ error: 'the hook sent no request' });
      }
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
  });
}

/** A quarantine path of the hook's environment outside the repository (git-receive-pack puts it under objects/), if any. */
function quarantineOutside(gitDir: string, env: Readonly<Record<string, string>>): string | undefined {
  const paths = QUARANTINE_ENV.flatMap((k) => (typeof env[k] === 'string' ? env[k].split(':').filter(Boolean) : []));
  return paths.find((p) => {
    const inside = relative(gitDir, resolve(gitDir, p));
    return inside === '..' || inside.startsWith('../');
  });
}
