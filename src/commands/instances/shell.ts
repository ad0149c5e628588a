import type ssh2 from 'ssh2';
import type { HostConfig } from '../../core/config/types.js';
import type { ParsedArgs } from '../../dispatch/args.js';
import { defineCommand, type SshSession } from '../../dispatch/command.js';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { instanceRoot, unixUser } from '../../core/render/names.js';
import { checkName } from '../../core/values.js';
import { connectHost, execOnHost, exitCode } from '../../adapters/host-client.js';
import { hostSettings, resolveInstances, sshTarget } from './instances.js';
import { parseTarget } from '../targets.js';

const USAGE = 'APP@CLUSTER [HOST] [--env ENV]';

/** The exit status when the connection to the host is lost mid-session, as ssh's own for a lost connection. */
const EXIT_CONNECTION = 255;

/**
 * Run as root on the host: into the release `current` points at, then as
 * the instance's user (who has no login shell; no_new_privs: a setuid
 * file cannot take it back to root), its environment cleared
 * and the release's env file sourced, an interactive bash (sh without it).
 * The env file is the one of the release the directory is: they always
 * agree, even during a switch.
 */
const SHELL_SCRIPT = `
root=$1 user=$2 prompt=$3 term=$4
cd "$root/current" 2>/dev/null || { echo "magrathea shell: no current release in $root" >&2; exit 1; }
release=$(readlink "$root/current")
case "$release" in /*) env_file="$release.env" ;; *) env_file="$root/$release.env" ;; esac
exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$root/tmp" TMPDIR="$root/tmp" LANG=C.UTF-8 TERM="$term" PS1="$prompt" PWD="$root/current" \\
  setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs -- \\
  sh -c 'set -a; [ -r "$1" ] && . "$1"; set +a; command -v bash >/dev/null 2>&1 && exec bash -i; exec sh -i' magrathea-shell "$env_file"
`;

interface ShellRequest {
  app: string;
  cluster?: string;
  host?: string;
  env?: string;
}

function shellRequest(parsed: ParsedArgs): ShellRequest {
  const target = parseTarget('shell', parsed.positionals[0]!);
  const host = parsed.positionals[1];
  const problem = host === undefined ? undefined : checkName(host);
  if (problem) throw new UsageError(`shell: host: ${problem}`);
  return { ...target, ...(host ? { host } : {}), ...(parsed.values.env ? { env: parsed.values.env } : {}) };
}

/**
 * `shell APP@CLUSTER [HOST]`: a terminal on a web host of the cluster
 * (the first that answers over SSH, unless named), proxied through the
 * gateway: keystrokes in, output out, window size changes forwarded to
 * the host's PTY, the remote exit status sent back as the session's.
 * Needs the client's PTY (`ssh -t`).
 */
export default defineCommand<number>({
  name: 'shell',
  summary: 'a terminal on a web host of the cluster, as the app\'s user, in its current release (ssh -t)',
  usage: USAGE,
  args: { values: ['env'], positionals: [1, 2] },
  need: 'shell',
  surfaces: ['ssh'],
  app: true,
  async run(args, ctx) {
    const request = shellRequest(args);
    const session = ctx.session;
    if (!session?.pty) throw new UsageError(`shell needs a terminal: use ssh -t, as in: ssh -t magrathea shell ${args.positionals.join(' ')}${args.values.env ? ` --env ${args.values.env}` : ''}`);
    const say = (text: string) => ctx.io.stderr.write(`magrathea shell: ${text}\r\n`);

    const config = await ctx.config();
    const targets = await resolveInstances({ config, redis: (await ctx.gateway()).state, app: request.app, cluster: request.cluster, env: request.env });
    if (!request.cluster && targets.clusters.length > 1) {
      throw new UsageError(`shell: name a cluster: ${targets.clusters.map((c) => `${request.app}@${c.cluster.name}`).join(' or ')}`);
    }
    const { cluster, webHosts, releases } = targets.clusters[0]!;
    let candidates = webHosts.filter((h) => releases[h.name] !== undefined);
    if (request.host) {
      const named = webHosts.find((h) => h.name === request.host);
      if (!named) throw new UsageError(`shell: ${request.host} is not a web host of ${cluster.name} (${webHosts.map((h) => h.name).join(', ')})`);
      candidates = candidates.filter((h) => h === named);
      if (candidates.length === 0) throw new MagratheaError(`${request.host} serves no release of ${request.app} (${targets.env}) yet`, 'not-deployed', 1);
    }
    if (candidates.length === 0) throw new MagratheaError(`${request.app} (${targets.env}) is not deployed on ${cluster.name} yet`, 'not-deployed', 1);

    let client: ssh2.Client | undefined;
    let host: HostConfig | undefined;
    for (const candidate of candidates) {
      if (session.signal.aborted) return EXIT_CONNECTION;
      try {
        client = await connectHost(sshTarget(candidate), { ...hostSettings(config), readyTimeoutMs: 5_000 });
        host = candidate;
        break;
      } catch (e) {
        say(`${candidate.name}: ${(e as Error).message}${candidate === candidates.at(-1) ? '' : '; trying the next host'}`);
      }
    }
    if (!client || !host) throw new MagratheaError(`no web host of ${cluster.name} answers over SSH`, 'host-unreachable', 1);

    const instance = { app: request.app, env: targets.env };
    const pty = session.pty;
    const term = /^[A-Za-z0-9._+-]{1,64}$/.test(pty.term) ? pty.term : 'xterm';
    const prompt = `${request.app}@${cluster.name}/${host.name} \\w \\$ `;
    try {
      const remote = await execOnHost(client, ['sh', '-c', SHELL_SCRIPT, 'magrathea-shell', instanceRoot(cluster.paths, instance), unixUser(instance), prompt, term], {
        // The client's terminal modes are not passed on: ssh2 1.17 does not decode them (always {}); the host's defaults apply.
        // A size of 0 (ssh -tt without a local terminal) would tell programs nothing: 80x24 then.
        pty: { term, cols: pty.cols || 80, rows: pty.rows || 24, width: pty.width, height: pty.height },
      });
      return await proxy(session, remote, () => say(`the connection to ${host.name} was lost`));
    } catch (e) {
      say(`${host.name}: ${(e as Error).message}`);
      return EXIT_CONNECTION;
    } finally {
      client.end();
    }
  },
});

/** Joins the user's channel and the host's: bytes both ways, window sizes, EOF; resolves to the remote exit status. */
export function proxy(session: SshSession, remote: ssh2.ClientChannel, lost: () => void): Promise<number> {
  const { channel } = session;
  return new Promise((resolve) => {
    let status: number | undefined;
    channel.pipe(remote);
    remote.pipe(channel, { end: false });
    remote.stderr.pipe(channel.stderr, { end: false });
    session.onWindowChange((size) => remote.setWindow(size.rows, size.cols, size.height, size.width));
    remote.on('exit', (code: number | null, signal?: string) => {
      status = exitCode(code, signal);
    });
    remote.on('close', () => {
      channel.unpipe(remote);
      if (status === undefined && !session.signal.aborted) lost();
      resolve(status ?? EXIT_CONNECTION);
    });
    // The user went away: ending the host connection (finally, in run) hangs up the remote PTY.
    session.signal.addEventListener('abort', () => resolve(EXIT_CONNECTION), { once: true });
  });
}
