import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { dirname } from 'node:path';
import ssh2 from 'ssh2';
import { ConnectionGate } from '../../adapters/connection-gate.js';
import { listenOn } from '../../adapters/listen.js';
import { run, start } from '../../adapters/exec.js';
import type { GatewayConfig, UserConfig } from '../../core/config/types.js';
import { formatBytes } from '../../core/accounting/usage.js';
import { authorize } from '../../core/access.js';
import { parseCommandLine } from '../../core/command-line.js';
import { checkName } from '../../core/values.js';
import { auditText, type AuditEntry } from '../../state/audit.js';
import { appExists, repoDir } from '../../push/repos.js';
import type { HookServer } from '../../push/hook-server.js';
import { refusalOf, type CommandOutcome, type Dispatcher } from '../../dispatch/dispatch.js';
import type { SshSession } from '../../dispatch/command.js';
import { keyId, type LiveUsers } from '../../config/live-users.js';
import { writable } from '../../lib/lines.js';
import { SessionTerminal } from './session.js';

const { Server } = ssh2;

export interface GatewayServerOptions {
  config: GatewayConfig;
  /** The configuration directory, handed to the git hooks. */
  configDir: string;
  host: string;
  port: number;
  /** users.yml as it is now. */
  users: LiveUsers;
  /** Runs the commands, checks and records them; pushes and refused logins are recorded through it too. */
  dispatcher: Dispatcher;
  /** One line for the gateway's log (connections refused by a limit, users removed). */
  log?: (line: string) => void;
  /** Where the hooks of the pushes it lets in are run; without it, each hook runs in its own process. */
  hooks?: HookServer;
}

export interface GatewayServer {
  port: number;
  close(): Promise<void>;
}

/** The gateway's SSH host key, made once in the state directory and kept. */
export async function hostKey(stateDir: string): Promise<Buffer> {
  const path = `${stateDir}/ssh/ssh_host_ed25519_key`;
  if (!existsSync(path)) {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'magrathea gateway', '-f', path]);
  }
  return readFile(path);
}

/** One client connection, from accept to close. */
interface Connection {
  socket: Socket;
  from: string;
  client?: ssh2.Connection;
  /** The key it logged in with, and whose it was then. */
  keyId?: string;
  userName?: string;
  /** Sessions open on it now, and the channels of their commands. */
  sessions: number;
  channels: Set<Channel>;
  /** Keys offered and refused, for the audit entry of a failed login. */
  refusedKeys: string[];
  channelRefusalAudited?: boolean;
}

/**
 * `ssh magrathea ...` and `git push magrathea`: an SSH server that accepts
 * only the public keys of the configured users, runs git-receive-pack for
 * pushes (whose hooks deploy) and the gateway's commands, each checked
 * against the user's role, apps and verbs as users.yml says at that moment.
 * limits.ssh bounds what one client may hold: connections (per address and
 * in all), time to log in, sessions per connection.
 */
export async function startGatewayServer(options: GatewayServerOptions): Promise<GatewayServer> {
  const limits = options.config.gateway.limits;
  const { users, dispatcher } = options;
  const audit = (entry: AuditEntry) => void dispatcher.record(entry);
  const log = options.log ?? (() => undefined);
  const gate = new ConnectionGate({
    total: limits.ssh.connections,
    perAddress: limits.ssh.connectionsPerAddress,
    names: { total: 'limits.ssh.connections', perAddress: 'limits.ssh.connections_per_address' },
  });
  const refusals = refusalLog(log);
  const connections = new Map<string, Connection>();
  /** git-receive-pack and upload-pack running, each until it ends. */
  const gits = new Set<Promise<unknown>>();

  const ssh = new Server({ hostKeys: [await hostKey(options.config.gateway.stateDir)] }, (client, info) => {
    const conn = connections.get(`${info.ip}:${info.port}`);
    if (!conn) return client.end(); // its socket closed meanwhile
    conn.client = client;
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      const id = keyId(ctx.key.algo, ctx.key.data);
      const known = users.byKey(id);
      if (!known) {
        if (conn.refusedKeys.length < 5) conn.refusedKeys.push(`unknown key ${ctx.key.algo} ${fingerprint(ctx.key.data)}`);
        return ctx.reject();
      }
      // Without a signature the client only asks whether this key would do.
      if (ctx.signature && known.key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) {
        if (conn.refusedKeys.length < 5) conn.refusedKeys.push(`bad signature for the key of ${known.user.name}`);
        return ctx.reject();
      }
      if (ctx.signature) {
        conn.keyId = id;
        conn.userName = known.user.name;
      }
      ctx.accept();
    });
    client.on('ready', () => {
      clearTimeout(authTimers.get(conn));
      authTimers.delete(conn);
      client.on('session', (acceptSession, rejectSession) => {
        // SSH cannot say why a channel is refused: the limit is named in the gateway's log and the audit log.
        if (conn.sessions >= limits.ssh.channelsPerConnection) {
          refusals(`${conn.from}: a session refused (limits.ssh.channels_per_connection: ${limits.ssh.channelsPerConnection})`);
          if (!conn.channelRefusalAudited) {
            conn.channelRefusalAudited = true;
            audit({ user: conn.userName ?? '-', command: 'ssh session', exitCode: 1, at: new Date().toISOString(), from: conn.from, refused: 'limits.ssh.channels_per_connection' });
          }
          return rejectSession();
        }
        const session = acceptSession();
        conn.sessions++;
        let counted = true;
        const uncount = () => {
          if (counted) conn.sessions--;
          counted = false;
        };
        session.once('close', uncount);
        // The terminal (ssh -t) and its size changes, for `shell` (and raw-mode line ends).
        const terminal = new SessionTerminal();
        session.on('pty', (accept, _reject, info) => {
          terminal.setPty(info);
          accept?.();
        });
        session.on('window-change', (accept, _reject, info) => {
          accept?.();
          terminal.resize(info);
        });
        session.on('shell', (accept) => {
          const channel = accept();
          channel.once('close', uncount);
          channel.stderr.write('magrathea: give a command: ssh magrathea help\n');
          channel.exit(2);
          channel.end();
        });
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          conn.channels.add(channel);
          channel.once('close', () => {
            conn.channels.delete(channel);
            uncount();
          });
          const at = () => new Date().toISOString();
          // The user as users.yml says now: a member whose apps or verbs shrank has lost them for this command.
          const user = conn.keyId ? users.byKey(conn.keyId)?.user : undefined;
          if (!user || user.name !== conn.userName) {
            channel.stderr.write('magrathea: your access to this gateway was removed\n');
            channel.exit(1);
            channel.end();
            return;
          }
          void handle(options, user, info.command, channel, terminal.session(channel, client), conn.from, gits).then(
            (outcome) => {
              // Commands are recorded by the dispatcher; a push or a line that does not parse, here.
              if (!outcome.recorded) {
                const refused = refusalOf(outcome);
                audit({ user: user.name, command: auditText(info.command), exitCode: outcome.exitCode, at: at(), from: conn.from, ...(refused ? { refused } : {}) });
              }
              channel.exit(outcome.exitCode);
              channel.end();
            },
            (e) => {
              channel.stderr.write(`magrathea: ${(e as Error).message}\n`);
              channel.exit(1);
              channel.end();
            },
          );
        });
      });
    });
    client.on('error', () => undefined); // a client that goes away mid-handshake
  });

  const authTimers = new Map<Connection, NodeJS.Timeout>();
  const front = createServer((socket) => {
    const admission = gate.admit(socket);
    if (!admission.ok) {
      // Before the SSH version line a server may send lines of text (RFC 4253, 4.2): the client learns which limit it hit.
      refusals(`${socket.remoteAddress}: connection refused: ${admission.message}`);
      socket.on('error', () => undefined);
      socket.end(`magrathea: ${admission.message}\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const from = `${socket.remoteAddress}:${socket.remotePort}`;
    const conn: Connection = { socket, from, sessions: 0, channels: new Set(), refusedKeys: [] };
    connections.set(from, conn);
    // Like sshd's LoginGraceTime: an idle or slow connection gives its socket back.
    authTimers.set(conn, setTimeout(() => socket.destroy(), limits.ssh.authTimeoutSeconds * 1000));
    socket.once('close', () => {
      clearTimeout(authTimers.get(conn));
      authTimers.delete(conn);
      connections.delete(from);
      if (!conn.keyId && conn.refusedKeys.length > 0) {
        audit({ user: '-', command: `ssh login: ${conn.refusedKeys.join(', ')}`, exitCode: 255, at: new Date().toISOString(), from, refused: 'unknown-key' });
      }
    });
    ssh.injectSocket(socket);
  });
  front.on('error', (e) => log(`SSH listener: ${e.message}`));

  // A user removed from users.yml (or whose key was) loses their open connections at once: their logs -f and shells end with them.
  const onUsersChange = () => {
    for (const conn of connections.values()) {
      if (!conn.keyId || users.byKey(conn.keyId)?.user.name === conn.userName) continue;
      log(`${conn.from}: ${conn.userName} is no longer in users.yml (or this key is not theirs): connection closed`);
      for (const channel of conn.channels) channel.stderr.write('\r\nmagrathea: your access to this gateway was removed\r\n');
      conn.client?.end();
      setTimeout(() => conn.socket.destroy(), 1000).unref();
    }
  };
  users.on('change', onUsersChange);

  return {
    port: await listenOn(front, options.host, options.port),
    async close() {
      users.off('change', onUsersChange);
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      // A push whose hooks the gateway just dropped tells its pusher so (and that nothing moved) before the connections go.
      if (gits.size > 0) await Promise.race([Promise.allSettled(gits), new Promise((r) => setTimeout(r, GIT_GRACE_MS).unref())]);
      for (const conn of connections.values()) conn.socket.destroy();
      await closed;
    },
  };
}

/** Logs refusals, at most one line a second and a count of the rest: a flood must not flood the log too. */
function refusalLog(log: (line: string) => void): (line: string) => void {
  let last = 0;
  let skipped = 0;
  return (line) => {
    const now = Date.now();
    if (now - last < 1000) {
      skipped++;
      return;
    }
    log(skipped > 0 ? `${line} (and ${skipped} more refusals since the last line)` : line);
    last = now;
    skipped = 0;
  };
}

/** OpenSSH's fingerprint of a public key blob: what `ssh-keygen -l` shows its owner. */
function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

type Channel = ssh2.ServerChannel;

async function handle(options: GatewayServerOptions, user: UserConfig, line: string, channel: Channel, session: SshSession, from: string, gits: Set<Promise<unknown>>): Promise<CommandOutcome & { recorded?: boolean }> {
  const err = (message: string, exitCode: number, refused: CommandOutcome['refused']): CommandOutcome => {
    channel.stderr.write(`${message}\n`);
    return { exitCode, refused };
  };
  const parsed = parseCommandLine(line);
  if ('error' in parsed) return err(`magrathea: ${parsed.error}`, 2, 'usage');
  const [name, ...args] = parsed.argv;

  if (name === 'git-receive-pack' || name === 'git-upload-pack') {
    const app = (args[0] ?? '').replace(/^\//, '').replace(/\.git$/, '');
    if (args.length !== 1 || checkName(app) !== undefined) return err(`magrathea: ${JSON.stringify(args[0] ?? '')} is not an app (push to magrathea:APP)`, 2, 'usage');
    const access = authorize(user, name === 'git-receive-pack' ? 'deploy' : 'read', app);
    if (!access.ok) return err(`magrathea: ${access.reason}`, 1, 'forbidden');
    if (!appExists(options.config.gateway.stateDir, app)) return err(`magrathea: no app ${app}: an admin creates it with "ssh magrathea apps:create ${app}"`, 1, 'failed');
    const repo = repoDir(options.config.gateway.stateDir, app);
    const hooks = name === 'git-receive-pack' ? options.hooks?.register({ app, gitDir: repo, pusher: user.name }) : undefined;
    const piped = pipeGit(name, repo, { MAGRATHEA_USER: user.name, MAGRATHEA_CONFIG: options.configDir, ...hooks?.env }, channel, options.config.gateway.builds.maxPushSize);
    gits.add(piped);
    try {
      return { exitCode: await piped };
    } finally {
      gits.delete(piped);
      hooks?.release();
    }
  }

  const io = { stdin: channel, stdout: writable((d) => channel.write(d)), stderr: writable((d) => channel.stderr.write(d)), cwd: options.config.gateway.stateDir };
  const outcome = await options.dispatcher.run(user, parsed.argv, io, { ask: (prompt) => askLine(channel, prompt), session, from, line });
  return { ...outcome, recorded: true };
}

/** How long a stopping gateway lets git-receive-pack and upload-pack end (pushes whose hooks it dropped: their rejection). */
const GIT_GRACE_MS = 3000;

/** git-receive-pack (or upload-pack) wired to the channel; its hooks learn who pushes, or where the gateway runs them, from `env`. */
async function pipeGit(program: string, repo: string, env: Record<string, string>, channel: Channel, maxPushSize: number): Promise<number> {
  const child = start(program, [repo], { env });
  let received = 0;
  channel.on('data', (data: Buffer) => void (received += data.length));
  channel.pipe(child.stdin!);
  child.stdout!.pipe(channel, { end: false });
  child.stderr!.pipe(channel.stderr, { end: false });
  // The client going away ends the push: git-receive-pack, and its hooks with it, see their input close.
  channel.on('close', () => child.stdin?.destroy());
  const result = await child;
  // git's own refusal of a pack over receive.maxInputSize (see configureRepo) names neither the size nor the setting.
  if (program === 'git-receive-pack' && received > maxPushSize) {
    channel.stderr.write(`magrathea: push refused: ${formatBytes(received)} received before git stopped reading, over the limit of ${formatBytes(maxPushSize)} per push (builds.max_push_size in gateway.yml); nothing was stored\n`);
  }
  return result.exitCode ?? 1;
}

/** A line typed by the client (the SSH client forwards its terminal's input as the channel's data). */
function askLine(channel: Channel, prompt: string, timeoutMs = 60_000): Promise<string | undefined> {
  channel.stderr.write(prompt);
  return new Promise((resolve) => {
    let line = '';
    const done = (value: string | undefined) => {
      clearTimeout(timer);
      channel.off('data', onData);
      channel.off('end', onEnd);
      resolve(value);
    };
    const onData = (data: Buffer) => {
      line += data.toString('utf8');
      const end = line.search(/[\r\n]/);
      if (end >= 0) done(line.slice(0, end));
    };
    const onEnd = () => done(line || undefined);
    const timer = setTimeout(() => done(undefined), timeoutMs);
    channel.on('data', onData);
    channel.on('end', onEnd);
  });
}
