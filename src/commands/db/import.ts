import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type ssh2 from 'ssh2';
import { formatBytes } from '../../core/accounting/usage.js';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { describeFilter } from '../../core/sql-dump.js';
import { defineCommand } from '../../dispatch/command.js';
import { APPLY, clientArgv, collect, connectDbHost, DISCARD, exitStatus, IMPORT_DIR_PREFIX, passwordLine, requireDatabase, startOnDbHost, UPLOAD } from './client.js';
import { DumpFilter, maybeGunzip } from './dump-stream.js';
import { databaseTarget } from './target.js';

/**
 * `db:import APP@CLUSTER --confirm APP < dump.sql[.gz]`: a dump into the
 * instance's database, as the instance's user (nothing outside its
 * database can be touched). The input (gunzipped if it is gzip) goes
 * through the dump filter (CREATE/DROP DATABASE and USE lines dropped,
 * DEFINER clauses removed) into a private file on the db host; only once
 * all of it arrived, under 1 GiB and looking like a dump, does the client
 * run it. The client runs statements one after the other: a dump that
 * fails half-way leaves what it did (DDL commits by itself in MySQL and
 * MariaDB), as any import does. Needs the `shell` verb (as db:shell: a
 * shell on a web host already gives the database password) and
 * `--confirm APP`: it replaces tables. SSH and the gateway's command line
 * (the dump on stdin); the HTTP API has no stdin to give.
 */
export default defineCommand<number>({
  name: 'db:import',
  summary: 'a dump (plain or gzipped) from stdin into the app\'s database on a cluster, as the app\'s database user',
  usage: 'APP@CLUSTER --confirm APP [--env ENV]',
  args: { values: ['env', 'confirm'], positionals: [1, 1] },
  need: 'shell',
  surfaces: ['cli', 'ssh'],
  app: true,
  async run(args, ctx) {
    const text = args.positionals[0]!;
    const app = text.split('@')[0]!;
    const input = new PassThrough();
    try {
      return await importDump(text, app);
    } finally {
      // What was not read is read to its end and dropped: an SSH client still sending it would otherwise wait for a window that never opens, and never see the exit status.
      if (ctx.surface === 'ssh' && ctx.io.stdin && !ctx.session?.pty) {
        ctx.io.stdin.unpipe(input);
        ctx.io.stdin.resume();
      }
    }

    async function importDump(text: string, app: string): Promise<number> {
      if (args.values.confirm !== app) {
        throw new UsageError(`db:import: not confirmed; nothing imported (it replaces tables of ${app}'s database: give --confirm ${app})`);
      }
      const stdin = ctx.io.stdin;
      if (!stdin || ctx.session?.pty || (ctx.surface === 'cli' && (stdin as { isTTY?: boolean }).isTTY)) {
        throw new UsageError(`db:import reads the dump from stdin, without a terminal, as in: ${ctx.surface === 'cli' ? 'magrathea' : 'ssh magrathea'} db:import ${text} --confirm ${app} < ${app}.sql.gz`);
      }
      const target = await databaseTarget(ctx, 'db:import', text, args.values.env);
      const where = `${target.app}@${target.cluster.name}: ${target.credentials.name} on ${target.host.name}`;
      let client: ssh2.Client | undefined;
      let dir: string | undefined;
      let applied = false;
      try {
        await requireDatabase(target, 'db:import');
        const password = passwordLine(target);
        client = await connectDbHost(ctx, target);

        // 1. The whole dump, filtered, into a private file on the db host.
        const upload = await startOnDbHost(client, ['sh', '-c', UPLOAD, 'magrathea-db-import']);
        const uploaded = exitStatus(upload);
        const uploadErrors = collect(upload.stderr);
        const notStored = async (status: number) =>
          new MagratheaError(`db:import: ${where}: could not store the dump on ${target.host.name}: ${(await uploadErrors).trim() || `exit ${status}`}; nothing was imported`, 'import-failed');
        // Its directory first, before any byte is sent: a dump refused at its first bytes destroys the channel, and
        // the directory made meanwhile must be known to be removed.
        dir = await firstLine(upload);
        if (!dir?.startsWith(IMPORT_DIR_PREFIX)) {
          throw await notStored(await uploaded);
        }
        const filter = new DumpFilter();
        let gzipped = false;
        // The session's channel is only read from, never ended or destroyed here: the dispatcher still answers on it.
        stdin.pipe(input);
        const failed = await pipeline(Readable.from(maybeGunzip(input, () => (gzipped = true))), filter, upload).then(
          () => undefined,
          (e: Error) => e,
        );
        if (failed) {
          stdin.unpipe(input);
          upload.close();
          const status = await uploaded;
          if (failed instanceof MagratheaError) throw failed;
          const why = status !== 0 ? (await uploadErrors).trim() : '';
          throw new MagratheaError(`db:import: ${where}: ${why ? `could not store the dump on ${target.host.name}: ${why}` : `the dump did not arrive whole (${failed.message})`}; nothing was imported`, 'import-failed');
        }
        const status = await uploaded;
        if (status !== 0) throw await notStored(status);
        const changed = describeFilter(filter.counts);
        if (changed) ctx.io.stderr.write(`db:import: ${changed}\n`);

        // 2. Run it, as the instance's user; the directory goes with it.
        applied = true;
        const apply = await startOnDbHost(client, ['sh', '-c', APPLY, 'magrathea-db-import', dir, ...clientArgv(target, 'file').slice(2)]);
        const applyErrors = collect(apply.stderr);
        apply.pipe(ctx.session?.channel ?? ctx.io.stdout, { end: false });
        apply.end(password);
        const exit = await exitStatus(apply);
        const said = (await applyErrors).trim();
        if (said) ctx.io.stderr.write(`${said}\n`);
        const size = `${formatBytes(filter.bytesOut)}${gzipped ? ` (from ${formatBytes(filter.bytesIn)} gunzipped)` : ''}`;
        if (exit !== 0) {
          throw new MagratheaError(`db:import: ${where}: the client stopped at an error (exit ${exit}): the statements before it were applied (an import is not one transaction); fix the dump and import it again`, 'import-failed');
        }
        ctx.io.stderr.write(`db:import: ${where}: ${size} imported\n`);
        return 0;
      } finally {
        stdin.unpipe(input);
        if (client && dir?.startsWith(IMPORT_DIR_PREFIX) && !applied) {
          const discard = await startOnDbHost(client, ['sh', '-c', DISCARD, 'magrathea-db-import', dir]).catch(() => undefined);
          if (discard) {
            discard.end();
            await exitStatus(discard);
          }
        }
        client?.end();
        await target.close();
      }
    }
  },
});

/** The first line the remote command prints (UPLOAD: its directory), the rest ignored. */
function firstLine(channel: ssh2.ClientChannel): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        channel.off('data', onData);
        resolve(text.slice(0, nl));
      }
    };
    channel.on('data', onData);
    channel.on('close', () => resolve(undefined));
  });
}
