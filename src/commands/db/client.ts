import type { Readable } from 'node:stream';
import type ssh2 from 'ssh2';
import { connectHost, execOnHost, exitCode, type HostExecOptions } from '../../adapters/host-client.js';
import { MagratheaError } from '../../core/errors.js';
import type { CommandContext } from '../../dispatch/command.js';
import { hostSettings, sshTarget } from '../instances/instances.js';
import type { DatabaseTarget } from './target.js';

/**
 * What db:shell, db:export and db:import share: whether the instance's
 * database exists yet, an ssh2 connection to the db host for streams, and
 * the scripts run there.
 */

/** Whether the instance's database exists on its db host (a deploy makes it). */
export function targetExists(target: DatabaseTarget): Promise<boolean> {
  return target.provider.exists(target.credentials.name);
}

/** Fails, saying to deploy first, when the database does not exist yet. */
export async function requireDatabase(target: DatabaseTarget, command: string): Promise<void> {
  if (!(await targetExists(target))) {
    throw new MagratheaError(`${command}: ${target.app} (${target.env}) has no database on ${target.cluster.name} yet (${target.credentials.name} on ${target.host.name}): deploy first`, 'not-deployed');
  }
}

/** An ssh2 connection to the db host: streams with backpressure, and a remote session that ends with it. */
export async function connectDbHost(ctx: CommandContext, target: DatabaseTarget): Promise<ssh2.Client> {
  return connectHost(sshTarget(target.host), { ...hostSettings(await ctx.config()), readyTimeoutMs: 10_000 });
}

/** Starts argv on the db host. */
export function startOnDbHost(client: ssh2.Client, argv: readonly string[], options: HostExecOptions = {}): Promise<ssh2.ClientChannel> {
  return execOnHost(client, argv, options);
}

/**
 * The remote command's exit status once its channel closes (128 + n for a
 * signal, 255 for a channel closed without one). Output nobody reads is
 * read and dropped: ssh2 closes a channel only once its output was read.
 */
export function exitStatus(channel: ssh2.ClientChannel): Promise<number> {
  if (channel.readableFlowing === null) channel.resume();
  if (channel.stderr.readableFlowing === null) channel.stderr.resume();
  return new Promise((resolve) => {
    let status: number | undefined;
    channel.on('exit', (code: number | null, signal?: string) => {
      status = exitCode(code, signal);
    });
    channel.on('close', () => resolve(status ?? 255));
  });
}

/** Everything a stream gives, as text (a remote command's stderr, a path it prints). */
export function collect(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** What the PTY shows once the client script has turned echo off and waits for the password. */
export const READY_MARKER = 'magrathea-db-ready';

/**
 * Run as root on the db host: the client script below, as `nobody` (no
 * new privileges, its own environment), so that what the client can do on
 * the host itself (`\e`, a pager, LOAD DATA LOCAL: `--sandbox` and the
 * environment refuse them anyway) is nobody's. Refused without a client
 * that has `--sandbox` (MariaDB 10.5.25, 10.6.18, 10.11.8, 11.0.6 and
 * later): a dump or a session could otherwise run commands on the db host.
 */
const AS_NOBODY = `
inner=$1; shift
command -v setpriv >/dev/null 2>&1 || { echo "magrathea: setpriv (util-linux) is missing on $(hostname)" >&2; exit 1; }
mariadb --sandbox --version >/dev/null 2>&1 || { echo "magrathea: the mariadb client on $(hostname) is missing or has no --sandbox (MariaDB 10.5.25, 10.6.18, 10.11.8 or later): refused, since SQL given to it could run commands on the host" >&2; exit 1; }
gid=$(id -g nobody) || exit 1
exec setpriv --reuid=nobody --regid="$gid" --clear-groups --no-new-privs -- \\
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/nonexistent TMPDIR=/tmp LANG=C.UTF-8 TERM="\${TERM:-dumb}" EDITOR=false VISUAL=false PAGER=cat MYSQL_HISTFILE=/dev/null \\
  sh -c "$inner" magrathea-db "$@"
`;

/**
 * As nobody: reads the instance's password as the first line of stdin
 * (`tty`: from the terminal, echo off, once READY_MARKER is shown), writes
 * it to a 0600 option file of its own, opens it and removes it at once,
 * and runs the client on that open file: the password is on no command
 * line, and on disk for the moment between. The client logs in as the
 * instance's user over TCP at the server's address, as the web hosts do,
 * into the instance's database. `file`: the SQL is on fd 4.
 */
const CLIENT = `
mode=$1 user=$2 host=$3 port=$4 db=$5
shift 5
if [ "$mode" = tty ]; then stty -echo; printf '%s\\n' ${READY_MARKER}; fi
IFS= read -r pw || { echo "magrathea: no password given" >&2; exit 1; }
if [ "$mode" = tty ]; then stty echo; fi
umask 077
cnf=$(mktemp) || exit 1
printf '[client]\\nuser=%s\\npassword=%s\\nhost=%s\\nport=%s\\n' "$user" "$pw" "$host" "$port" > "$cnf" || { rm -f "$cnf"; exit 1; }
pw=
exec 3<"$cnf"
rm -f "$cnf"
set -- --defaults-extra-file=/dev/fd/3 --protocol=TCP --connect-timeout=10 --sandbox --local-infile=0 --default-character-set=utf8mb4 "$@"
if [ "$mode" = tty ]; then exec mariadb "$@" "$db"; fi
exec mariadb "$@" --batch "$db" <&4 4<&-
`;

/** The argv that runs the client on the db host as the instance's user (see CLIENT); its first line of input must be the password. */
export function clientArgv(target: DatabaseTarget, mode: 'tty' | 'file', extra: readonly string[] = []): string[] {
  const { user, host, port, name } = target.credentials;
  return ['sh', '-c', AS_NOBODY, 'magrathea-db', CLIENT, mode, user, host, String(port), name, ...extra];
}

/** The password as the client script reads it: one line. The gateway makes them base64url: anything else is refused here. */
export function passwordLine(target: DatabaseTarget): string {
  if (!/^[A-Za-z0-9_-]{8,200}$/.test(target.credentials.password)) throw new MagratheaError(`the password kept for ${target.credentials.user} is not one the gateway makes`, 'bad-password');
  return `${target.credentials.password}\n`;
}

/** Where db:import stores a dump on the db host before running it: under /var/tmp (a /tmp in memory would hold up to 1 GiB). */
export const IMPORT_DIR_PREFIX = '/var/tmp/magrathea-import.';

/**
 * As root: a private directory for the dump (its path on the first line
 * of stdout), the dump from stdin into it. Directories left by a gateway
 * that died mid-import are removed after a day.
 */
export const UPLOAD = `
find /var/tmp -maxdepth 1 -name 'magrathea-import.*' -mmin +1440 -exec rm -rf {} + 2>/dev/null
umask 077
dir=$(mktemp -d ${IMPORT_DIR_PREFIX}XXXXXXXX) || exit 1
printf '%s\\n' "$dir"
cat > "$dir/dump.sql" || { rm -rf "$dir"; exit 1; }
`;

/** As root: the client (AS_NOBODY + CLIENT, `file`) on the stored dump, then the directory removed. */
export const APPLY = `
dir=$1; shift
case "$dir" in ${IMPORT_DIR_PREFIX}*) ;; *) echo "magrathea: not an import directory: $dir" >&2; exit 2 ;; esac
sh -c "$@" 4<"$dir/dump.sql"
status=$?
rm -rf "$dir"
exit $status
`;

/** As root: a directory UPLOAD made, removed (an import that stopped before APPLY). */
export const DISCARD = `case "$1" in ${IMPORT_DIR_PREFIX}*) rm -rf "$1" ;; esac`;
