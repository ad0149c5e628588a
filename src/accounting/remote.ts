import { gunzipSync } from 'node:zlib';
import type { HostSession } from '../adapters/ssh.js';
import { FINGERPRINT, type EdgeLogProbe, type LogFileProbe } from '../core/accounting/cursor.js';
import { checkName } from '../core/values.js';

/**
 * What the accounting job runs on a host, sent with each call (`sh -c
 * SCRIPT name ARG...`, every argument quoted by HostSession): hosts need
 * nothing installed. Each file is opened once (fd 3) and everything about
 * it (inode, size, bytes) is read through that descriptor, so a rotation
 * between two commands cannot mix two files.
 */

/**
 * probe APPS CURRENT ROTATED OFFSET FPLEN WEB CACHE
 * Web: `du <bytes>\t<dir>` for each <apps>/<app>/<env> (releases and shared
 * files; hard links between releases counted once). Cache: for the current
 * log, then the previous one, `log <name> <inode> <size> <fingerprint>`,
 * the fingerprint being base64 of the FPLEN bytes before OFFSET (`-` when
 * the file is shorter or FPLEN is 0).
 */
const PROBE = `
apps=$1 current=$2 rotated=$3 offset=$4 k=$5 web=$6 cache=$7
if [ "$web" = 1 ] && [ -d "$apps" ]; then
  set --
  for d in "$apps"/*/*; do
    if [ -d "$d" ] && [ ! -L "$d" ]; then set -- "$@" "$d"; fi
  done
  if [ $# -gt 0 ]; then du -s -B1 -- "$@" 2>/dev/null | sed 's/^/du /'; fi
fi
if [ "$cache" = 1 ]; then
  for name in current rotated; do
    if [ "$name" = current ]; then f=$current; else f=$rotated; fi
    {
      set -- $(stat -L -c '%i %s' /dev/fd/3)
      fp=-
      if [ "$k" -gt 0 ] && [ "$2" -ge "$offset" ]; then
        fp=$(dd bs=1 skip=$((offset - k)) count="$k" <&3 2>/dev/null | base64 -w0)
      fi
      echo "log $name $1 $2 \${fp:--}"
    } 3<"$f" 2>/dev/null
  done
fi
exit 0
`;

/**
 * read CURRENT ROTATED INODE START LENGTH
 * LENGTH bytes from START of whichever of the two files has that inode,
 * gzipped and in base64 (the log's bytes pass through text untouched);
 * exit 3 when neither has it any more.
 */
const READ = `
current=$1 rotated=$2 inode=$3 start=$4 length=$5
for f in "$current" "$rotated"; do
  {
    if [ "$(stat -L -c %i /dev/fd/3)" = "$inode" ]; then
      dd bs=65536 skip="$start" count="$length" iflag=skip_bytes,count_bytes <&3 2>/dev/null | gzip -1 | base64 -w0
      exit 0
    fi
  } 3<"$f" 2>/dev/null
done
exit 3
`;

export interface ProbeRequest {
  apps: string;
  current: string;
  rotated: string;
  /** The cursor's offset and fingerprint length (0 when there is no cursor). */
  offset: number;
  fingerprint: number;
  web: boolean;
  cache: boolean;
}

export interface ProbeResult {
  /** Bytes of disk per instance on the host. */
  disk: { app: string; env: string; bytes: number }[];
  log: EdgeLogProbe;
}

export async function probeHost(session: HostSession, request: ProbeRequest): Promise<ProbeResult> {
  const fingerprint = Math.min(request.fingerprint, FINGERPRINT, request.offset);
  const { stdout } = await session.exec(['sh', '-c', PROBE, 'magrathea-accounting-probe', request.apps, request.current, request.rotated,
    String(request.offset), String(fingerprint), request.web ? '1' : '0', request.cache ? '1' : '0'], { timeout: 600_000 });
  return parseProbe(stdout, request.apps);
}

/** The probe's output, read strictly: a line that does not parse is ignored (a directory that is no instance). */
export function parseProbe(stdout: string, apps: string): ProbeResult {
  const result: ProbeResult = { disk: [], log: {} };
  for (const line of stdout.split('\n')) {
    const du = /^du ([0-9]+)\t(.*)$/.exec(line);
    if (du && du[2]!.startsWith(`${apps}/`)) {
      const [app, env, ...rest] = du[2]!.slice(apps.length + 1).split('/');
      if (rest.length === 0 && app && env && !checkName(app) && !checkName(env)) result.disk.push({ app, env, bytes: Number(du[1]) });
      continue;
    }
    const log = /^log (current|rotated) ([0-9]+) ([0-9]+) (\S+)$/.exec(line);
    if (log) {
      const file: LogFileProbe = { inode: Number(log[2]), size: Number(log[3]) };
      if (log[4] !== '-') file.fp = log[4]!;
      result.log[log[1] as 'current' | 'rotated'] = file;
    }
  }
  return result;
}

/** LENGTH bytes from START of the file with `inode` (the current log or the previous one), or undefined when neither is it any more. */
export async function readLogRange(session: HostSession, files: { current: string; rotated: string }, inode: number, start: number, length: number): Promise<Buffer | undefined> {
  const result = await session.exec(['sh', '-c', READ, 'magrathea-accounting-read', files.current, files.rotated, String(inode), String(start), String(length)], {
    reject: false,
    timeout: 600_000,
  });
  if (result.exitCode === 3) return undefined;
  if (result.exitCode !== 0) throw new Error(`reading the edge log failed (exit ${result.exitCode}): ${result.stderr.trim().split('\n').at(-1) ?? ''}`);
  return gunzipSync(Buffer.from(result.stdout, 'base64'));
}
