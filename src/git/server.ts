import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import ssh2 from 'ssh2';
import { listenOn } from '../adapters/listen.js';
import { run, start } from '../adapters/exec.js';
import type { GatewayConfig, UserConfig } from '../config/types.js';
import { formatBytes } from '../core/accounting/usage.js';
import { authorize } from '../core/access.js';
import { parseCommandLine } from '../core/command-line.js';
import { checkName } from '../core/values.js';
import { auditText, type AuditEntry } from './audit.js';
import { appExists, repoDir } from './repos.js';
import { runGatewayCommand } from './dispatch.js';
import { writable } from './line-splitter.js';
import { SessionTerminal, type SshSession } from './ssh-session.js';

const { Server, utils } = ssh2;

export interface GatewayServerOptions {
  config: GatewayConfig;
  /** The configuration directory, handed to the git hooks and commands. */
  configDir: string;
  host: string;
  port: number;
  /** Each command and push, once it ended: who, what, outcome. */
  audit?: (entry: AuditEntry) => void;
  /** The newest audit entries, for the `audit` command. */
  readAudit?: (count: number) => Promise<AuditEntry[]>;
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

/**
 * `ssh magrathea ...` and `git push magrathea`: an SSH server that accepts
 * only the public keys of the configured users, runs git-receive-pack for
 * pushes (whose hooks deploy) and the gateway's commands, each checked
 * against the user's role, apps and verbs.
 */
export async function startGatewayServer(options: GatewayServerOptions): Promise<GatewayServer> {
  const keys = authorizedKeys(options.config);
  const server = new Server({ hostKeys: [await hostKey(options.config.gateway.stateDir)] }, (client) => {
    let user: UserConfig | undefined;
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      const known = keys.get(`${ctx.key.algo} ${ctx.key.data.toString('base64')}`);
      if (!known) return ctx.reject();
      // Without a signature the client only asks whether this key would do.
      if (ctx.signature && known.key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject();
      user = known.user;
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
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
          channel.stderr.write('magrathea: give a command: ssh magrathea help\n');
          channel.exit(2);
          channel.end();
        });
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          void handle(options, user!, info.command, channel, terminal.session(channel, client)).then(
            (code) => {
              options.audit?.({ user: user!.name, command: auditText(info.command), exitCode: code, at: new Date().toISOString() });
              channel.exit(code);
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
  return {
    port: await listenOn(server, options.host, options.port),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Channel = ssh2.ServerChannel;

async function handle(options: GatewayServerOptions, user: UserConfig, line: string, channel: Channel, session: SshSession): Promise<number> {
  const err = (message: string, code: number): number => {
    channel.stderr.write(`${message}\n`);
    return code;
  };
  const parsed = parseCommandLine(line);
  if ('error' in parsed) return err(`magrathea: ${parsed.error}`, 2);
  const [name, ...args] = parsed.argv;

  if (name === 'git-receive-pack' || name === 'git-upload-pack') {
    const app = (args[0] ?? '').replace(/^\//, '').replace(/\.git$/, '');
    if (args.length !== 1 || checkName(app) !== undefined) return err(`magrathea: ${JSON.stringify(args[0] ?? '')} is not an app (push to magrathea:APP)`, 2);
    const access = authorize(user, name === 'git-receive-pack' ? 'deploy' : 'read', app);
    if (!access.ok) return err(`magrathea: ${access.reason}`, 1);
    if (!appExists(options.config.gateway.stateDir, app)) return err(`magrathea: no app ${app}: an admin creates it with "ssh magrathea apps:create ${app}"`, 1);
    return pipeGit(name, repoDir(options.config.gateway.stateDir, app), user, options.configDir, channel, options.config.gateway.builds.maxPushSize);
  }

  const io = { stdout: writable((d) => channel.write(d)), stderr: writable((d) => channel.stderr.write(d)), cwd: options.config.gateway.stateDir, user: user.name };
  const outcome = await runGatewayCommand({ config: options.config, configDir: options.configDir, readAudit: options.readAudit }, user, parsed.argv, io, { ask: (prompt) => askLine(channel, prompt), session });
  return outcome.exitCode;
}

/** git-receive-pack (or upload-pack) wired to the channel; its hooks learn who pushes from the environment. */
async function pipeGit(program: string, repo: string, user: UserConfig, configDir: string, channel: Channel, maxPushSize: number): Promise<number> {
  const child = start(program, [repo], { env: { MAGRATHEA_USER: user.name, MAGRATHEA_CONFIG: configDir } });
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

/** `<algo> <base64 blob>` of every configured key, with its user and parsed key (to verify signatures). */
function authorizedKeys(config: GatewayConfig): Map<string, { user: UserConfig; key: ssh2.ParsedKey }> {
  const map = new Map<string, { user: UserConfig; key: ssh2.ParsedKey }>();
  for (const user of Object.values(config.users)) {
    for (const line of user.keys) {
      const key = utils.parseKey(line);
      if (key instanceof Error) continue; // validated at load: cannot happen
      map.set(`${key.type} ${key.getPublicSSH().toString('base64')}`, { user, key });
    }
  }
  return map;
}
