import type { Writable } from 'node:stream';
import type ssh2 from 'ssh2';
import { formatBytes } from '../../core/accounting/usage.js';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { defineCommand } from '../../dispatch/command.js';
import { collect, connectDbHost, exitStatus, requireDatabase, startOnDbHost } from './client.js';
import { databaseTarget } from './target.js';

/**
 * Run as root on the db host, through the server's socket: a consistent
 * dump (one transaction: InnoDB tables as of one moment) of the one
 * database, without `--databases` (so no CREATE DATABASE or USE: it
 * imports into any database), DEFINER clauses taken out of the DDL lines
 * (so views, triggers, routines and events import under another user),
 * gzipped on the host. The exit status is the dump's.
 */
const EXPORT = `
db=$1 definers=$2
dump=mariadb-dump; command -v mariadb-dump >/dev/null 2>&1 || dump=mysqldump
exec 4>&1
status=$( { { LC_ALL=C "$dump" --single-transaction --routines --triggers --events --no-tablespaces --default-character-set=utf8mb4 "$db" 3>&- 4>&-; echo $? >&3; } | LC_ALL=C sed -E "$definers" | gzip -c >&4; } 3>&1 )
exit "\${status:-1}"
`;

/** sed: DEFINER=user@host out of the lines that start a view, trigger, routine or event (never out of an INSERT's data). */
const STRIP_DEFINERS = "/^[[:space:]]*(CREATE|[/][*]!)/s/DEFINER=(`[^`]*`|'[^']*'|[A-Za-z0-9_$.-]+)(@(`[^`]*`|'[^']*'|[A-Za-z0-9_$.%-]+))? ?//g";

/**
 * `db:export APP@CLUSTER > dump.sql.gz`: the instance's database, dumped
 * on its db host and streamed through the gateway as it comes, with
 * backpressure (a slow client slows the dump down; nothing is stored on
 * the gateway). Bytes only: over SSH and at the gateway's command line,
 * not the HTTP API (whose /v1/run streams lines of text). Needs the
 * `shell` verb: it reads every row, which only a shell (the env file's
 * password) gave so far.
 */
export default defineCommand<number>({
  name: 'db:export',
  summary: 'the app\'s database on a cluster, as a gzipped SQL dump on stdout (ssh magrathea db:export APP@CLUSTER > dump.sql.gz)',
  usage: 'APP@CLUSTER [--env ENV]',
  args: { values: ['env'], positionals: [1, 1] },
  need: 'shell',
  surfaces: ['cli', 'ssh'],
  app: true,
  async run(args, ctx) {
    const text = args.positionals[0]!;
    const out: Writable = ctx.session?.channel ?? ctx.io.stdout;
    if (ctx.session?.pty || (ctx.surface === 'cli' && (out as { isTTY?: boolean }).isTTY)) {
      throw new UsageError(`db:export writes gzipped bytes: send them to a file, without a terminal, as in: ${ctx.surface === 'cli' ? 'magrathea' : 'ssh magrathea'} db:export ${text} > ${text.split('@')[0]}.sql.gz`);
    }
    const target = await databaseTarget(ctx, 'db:export', text, args.values.env);
    let client: ssh2.Client | undefined;
    try {
      await requireDatabase(target, 'db:export');
      client = await connectDbHost(ctx, target);
      const remote = await startOnDbHost(client, ['sh', '-c', EXPORT, 'magrathea-db-export', target.credentials.name, STRIP_DEFINERS]);
      remote.end();
      let bytes = 0;
      remote.on('data', (d: Buffer) => void (bytes += d.length));
      remote.pipe(out, { end: false });
      const errors = collect(remote.stderr);
      const stop = () => client?.end();
      ctx.session?.signal.addEventListener('abort', stop, { once: true });
      const status = await exitStatus(remote);
      ctx.session?.signal.removeEventListener('abort', stop);
      remote.unpipe(out);
      const said = (await errors).trim();
      const where = `${target.app}@${target.cluster.name}: ${target.credentials.name} on ${target.host.name}`;
      if (status !== 0) {
        throw new MagratheaError(`db:export: ${where}: the dump failed (exit ${status})${said ? `: ${said.split('\n').at(-1)}` : ''}; what was written is incomplete`, 'dump-failed');
      }
      ctx.io.stderr.write(`db:export: ${where}: ${formatBytes(bytes)} gzipped\n`);
      return 0;
    } finally {
      client?.end();
      await target.close();
    }
  },
});
