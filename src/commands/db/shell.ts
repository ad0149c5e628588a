import type ssh2 from 'ssh2';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { defineCommand, type SshSession } from '../../dispatch/command.js';
import { proxy } from '../instances/shell.js';
import { clientArgv, connectDbHost, passwordLine, READY_MARKER, requireDatabase, startOnDbHost } from './client.js';
import { databaseTarget } from './target.js';

/** ssh's own status for a lost connection, as `shell`'s. */
const EXIT_CONNECTION = 255;

/**
 * `db:shell APP@CLUSTER`: the `mariadb` client on the cluster's db host,
 * logged in as the instance's user (its own credentials: its database
 * only, as the app itself) over TCP at the server's address, as the web
 * hosts do; proxied through the gateway like `shell` (`ssh -t`), with the
 * client's exit status as the session's. Needs the `shell` verb: a shell on
 * a web host already gives the instance's env file, and so its database
 * password; db:shell gives nothing more. The password is on no command
 * line: the client script reads it from the terminal, echo off (see
 * client.ts).
 */
export default defineCommand<number>({
  name: 'db:shell',
  summary: 'the mariadb client on the app\'s database of a cluster, as the app\'s database user (ssh -t)',
  usage: 'APP@CLUSTER [--env ENV]',
  args: { values: ['env'], positionals: [1, 1] },
  need: 'shell',
  surfaces: ['ssh'],
  app: true,
  async run(args, ctx) {
    const text = args.positionals[0]!;
    const session = ctx.session;
    if (!session?.pty) throw new UsageError(`db:shell needs a terminal: use ssh -t, as in: ssh -t magrathea db:shell ${text}${args.values.env ? ` --env ${args.values.env}` : ''}`);
    const target = await databaseTarget(ctx, 'db:shell', text, args.values.env);
    let client: ssh2.Client | undefined;
    try {
      await requireDatabase(target, 'db:shell');
      const password = passwordLine(target);
      client = await connectDbHost(ctx, target);
      const pty = session.pty;
      const term = /^[A-Za-z0-9._+-]{1,64}$/.test(pty.term) ? pty.term : 'xterm';
      const remote = await startOnDbHost(client, clientArgv(target, 'tty', [`--prompt=${target.app}@${target.cluster.name} \\d> `]), {
        pty: { term, cols: pty.cols || 80, rows: pty.rows || 24, width: pty.width, height: pty.height },
      });
      const ready = await untilReady(session, remote);
      if (ready !== true) return ready;
      remote.write(password);
      return await proxy(session, remote, () => ctx.io.stderr.write(`magrathea db:shell: the connection to ${target.host.name} was lost\r\n`));
    } finally {
      client?.end();
      await target.close();
    }
  },
});

/**
 * Waits for the client script to turn the terminal's echo off (READY_MARKER
 * on the PTY), passing on what the host shows before it (a refusal); then
 * the password may be typed in. Resolves to true, or to the exit status of
 * a script that ended first.
 */
function untilReady(session: SshSession, remote: ssh2.ClientChannel, timeoutMs = 20_000): Promise<true | number> {
  return new Promise((resolve, reject) => {
    let seen = '';
    let status: number | undefined;
    const finish = (value: true | number | Error) => {
      clearTimeout(timer);
      remote.off('data', onData);
      remote.off('exit', onExit);
      remote.off('close', onClose);
      if (value instanceof Error) reject(value);
      else resolve(value);
    };
    const onData = (data: Buffer) => {
      seen += data.toString('latin1');
      const at = seen.indexOf(READY_MARKER);
      if (at < 0) {
        // What cannot be part of the marker is shown now.
        const keep = Math.max(0, seen.length - READY_MARKER.length);
        if (keep > 0) session.channel.write(Buffer.from(seen.slice(0, keep), 'latin1'));
        seen = seen.slice(keep);
        return;
      }
      remote.pause();
      if (at > 0) session.channel.write(Buffer.from(seen.slice(0, at), 'latin1'));
      const after = seen.slice(at + READY_MARKER.length).replace(/^\r?\n/, '');
      if (after) session.channel.write(Buffer.from(after, 'latin1'));
      finish(true);
    };
    const onExit = (code: number | null) => void (status = code ?? EXIT_CONNECTION);
    const onClose = () => {
      if (seen) session.channel.write(Buffer.from(seen, 'latin1'));
      finish(status ?? EXIT_CONNECTION);
    };
    const timer = setTimeout(() => finish(new MagratheaError('db:shell: the client on the db host did not start within 20 s', 'db-shell-timeout')), timeoutMs);
    remote.on('data', onData);
    remote.on('exit', onExit);
    remote.on('close', onClose);
    session.signal.addEventListener('abort', () => finish(EXIT_CONNECTION), { once: true });
  });
}
