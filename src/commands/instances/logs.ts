import type { Writable } from 'node:stream';
import type ssh2 from 'ssh2';
import type { HostConfig } from '../../core/config/types.js';
import type { ParsedArgs } from '../../dispatch/args.js';
import { defineCommand, EVERYWHERE, type CommandContext } from '../../dispatch/command.js';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { logDir } from '../../core/render/names.js';
import { connectHost, execOnHost } from '../../adapters/host-client.js';
import { hostSettings, resolveInstances, sshTarget } from './instances.js';
import { splitLines } from '../../lib/lines.js';
import { parseTarget } from '../targets.js';

const USAGE = 'APP[@CLUSTER] [-f] [-n N] [--cluster C] [--type access|error] [--env ENV]';

/** The files of each `--type`, under `<paths.logs>/<app>/<env>/`; no type: all of them. */
const LOG_FILES = { access: ['access.log'], error: ['error.log', 'php-error.log'] } as const;

/** Last lines shown of each log on each host, unless `-n`. */
export const DEFAULT_LINES = 100;

interface LogsRequest {
  app: string;
  cluster?: string;
  env?: string;
  follow: boolean;
  lines: number;
  files: readonly string[];
}

function logsRequest(parsed: ParsedArgs): LogsRequest {
  const target = parseTarget('logs', parsed.positionals[0]!);
  const cluster = parsed.values.cluster ?? target.cluster;
  if (parsed.values.cluster && target.cluster && parsed.values.cluster !== target.cluster) throw new UsageError(`logs: ${parsed.positionals[0]} and --cluster ${parsed.values.cluster} name different clusters`);
  const lines = Number(parsed.values.n ?? DEFAULT_LINES);
  if (!/^\d{1,5}$/.test(parsed.values.n ?? '0') || lines > 10_000) throw new UsageError('logs: -n takes a number from 0 to 10000');
  const type = parsed.values.type;
  if (type !== undefined && type !== 'access' && type !== 'error') throw new UsageError(`logs: --type is access or error, not ${JSON.stringify(type)}`);
  return {
    app: target.app,
    ...(cluster ? { cluster } : {}),
    ...(parsed.values.env ? { env: parsed.values.env } : {}),
    follow: parsed.flags.has('f') || parsed.flags.has('follow'),
    lines,
    files: type ? LOG_FILES[type] : [...LOG_FILES.access, ...LOG_FILES.error],
  };
}

/**
 * The remote command for one log file. Following, it runs on a PTY: when
 * the gateway's connection to the host ends (the user went away, or the
 * gateway died), sshd closes the PTY and the kernel hangs up `tail`, which
 * a pipe would only tell at its next write, after the next request.
 * `-F` follows the file across rotation and waits for one not written yet
 * (php-error.log); its notices about that are not log lines. Where tail
 * cannot use inotify (overlayfs, NFS) it polls: every quarter second
 * rather than every second. tail runs as root: the log directory is
 * root's (the deploy's prepare step), so the app cannot plant a link
 * there; a link found anyway is not read.
 */
function tailArgv(file: string, lines: number, follow: boolean): string[] {
  return follow
    ? ['sh', '-c', '[ -L "$2" ] && exit 0; exec tail -n "$1" -s 0.25 -F -- "$2" 2>/dev/null', 'magrathea-logs', String(lines), file]
    : ['sh', '-c', '[ -e "$2" ] && [ ! -L "$2" ] || exit 0; exec tail -n "$1" -- "$2"', 'magrathea-logs', String(lines), file];
}

/**
 * `logs APP[@CLUSTER]`: the instance's logs on every web host of its
 * clusters, read over SSH and merged line by line as they come, each line
 * prefixed `cluster/host `. With -f, follows until the user goes away
 * (Ctrl-C, or the connection closing), and then nothing is left running,
 * neither on the hosts nor on the gateway.
 */
export default defineCommand<number>({
  name: 'logs',
  summary: 'an app\'s logs from every web host, merged line by line (-f follows)',
  usage: USAGE,
  args: { values: ['n', 'cluster', 'type', 'env'], booleans: ['f', 'follow'], positionals: [1, 1] },
  need: 'logs',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const request = logsRequest(args);
    if (request.follow && !ctx.session && !ctx.live) throw new UsageError('logs: -f needs a client that stays: an SSH session, or the HTTP API');
    const config = await ctx.config();
    const targets = await resolveInstances({ config, redis: (await ctx.gateway()).state, app: request.app, cluster: request.cluster, env: request.env });
    const hosts = targets.clusters.flatMap((c) => c.webHosts.map((host) => ({ cluster: c.cluster.name, host, dir: logDir(c.cluster.paths, targets) })));
    if (hosts.length === 0) throw new MagratheaError(`${request.app} (${targets.env}) has no web host`, 'no-hosts', 1);
    if (!request.follow) return streamLogs(ctx, request, hosts, hostSettings(config));
    // Each follower holds an SSH connection to every web host: one user may hold only so many at once.
    const release = ctx.follows?.take(ctx.user.name);
    if (ctx.follows && !release) {
      throw new MagratheaError(`logs -f: ${ctx.user.name} already follows ${ctx.follows.max} logs, over SSH and the HTTP API together (limits.logs_follow_per_user: ${ctx.follows.max}); end one first`, 'limit', 1);
    }
    try {
      return await streamLogs(ctx, request, hosts, hostSettings(config));
    } finally {
      release?.();
    }
  },
});

interface LogSource {
  cluster: string;
  host: HostConfig;
  dir: string;
}

async function streamLogs(ctx: CommandContext, request: LogsRequest, sources: LogSource[], settings: ReturnType<typeof hostSettings>): Promise<number> {
  const session = ctx.session;
  const live = session ? { output: session.channel, signal: session.signal } : ctx.live;
  let stopped = false;
  // Under `ssh -t` the client's terminal is raw: a line needs its carriage return.
  const eol = Buffer.from(session?.pty ? '\r\n' : '\n');
  const out: Writable = live?.output ?? ctx.io.stdout;
  // Once stopped, the channel may be gone: nothing more is written to it.
  const say = (text: string) => void (stopped || ctx.io.stderr.write(`magrathea logs: ${text}${session?.pty ? '\r\n' : '\n'}`));
  const clients: ssh2.Client[] = [];
  const channels: ssh2.ClientChannel[] = [];
  let failed = 0;

  // Backpressure: a slow client pauses every host rather than the gateway buffering without end.
  let paused = false;
  const write = (data: Buffer) => {
    if (stopped || out.write(data) || paused) return;
    paused = true;
    for (const c of channels) c.pause();
    out.once('drain', () => {
      paused = false;
      for (const c of channels) c.resume();
    });
  };

  const read = async (source: LogSource): Promise<void> => {
    const prefix = Buffer.from(`${source.cluster}/${source.host.name} `);
    let client: ssh2.Client;
    try {
      client = await connectHost(sshTarget(source.host), settings);
    } catch (e) {
      failed++;
      say(`${source.cluster}/${source.host.name}: ${(e as Error).message}`);
      return;
    }
    if (stopped) {
      client.end();
      return;
    }
    clients.push(client);
    await Promise.all(
      request.files.map(async (file) => {
        const channel = await execOnHost(client, tailArgv(`${source.dir}/${file}`, request.lines, request.follow), request.follow ? { pty: { term: 'dumb', modes: { ONLCR: 0 } } } : {}).catch((e: Error) => {
          if (stopped) return undefined;
          failed++;
          say(`${source.cluster}/${source.host.name}: ${e.message}`);
          return undefined;
        });
        if (!channel) return;
        channels.push(channel);
        if (paused) channel.pause();
        const lines = splitLines((line) => write(Buffer.concat([prefix, line, eol])));
        const errors = splitLines((line) => say(`${source.cluster}/${source.host.name}: ${line.toString('utf8')}`));
        channel.on('data', (d: Buffer) => lines.push(d));
        channel.stderr.on('data', (d: Buffer) => errors.push(d));
        await new Promise<void>((resolve) => {
          channel.on('exit', (code: number | null) => {
            if (code !== 0 && code !== null && !stopped) {
              failed++;
              say(`${source.cluster}/${source.host.name}: tail of ${file} exited with ${code}`);
            }
          });
          channel.on('close', () => {
            lines.end();
            errors.end();
            resolve();
          });
        });
      }),
    );
    if (request.follow && !stopped) {
      failed++;
      say(`${source.cluster}/${source.host.name}: connection to the host ended`);
    }
  };

  const all = Promise.all(sources.map(read));
  const stop = new Promise<void>((resolve) => {
    if (!live) return;
    if (live.signal.aborted) resolve();
    live.signal.addEventListener('abort', () => resolve(), { once: true });
    // Under `ssh -t`, Ctrl-C and Ctrl-D reach us as bytes, not as the client going away.
    if (session?.pty) session.channel.on('data', (d: Buffer) => (d.includes(0x03) || d.includes(0x04) ? resolve() : undefined));
  });
  try {
    await Promise.race([all, stop]);
  } finally {
    stopped = true;
    // Ending each connection closes its remote sessions: sshd hangs up their PTYs and tail exits.
    for (const client of clients) client.end();
  }
  if (live?.signal.aborted) return 0;
  return failed > 0 ? 1 : 0;
}
