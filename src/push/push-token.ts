import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * The token that ties a push's pre-receive lock to its post-receive: the
 * git-receive-pack both hooks are children of, named by this machine, its
 * PID and its start time (so that a PID used again is another process).
 * `push:<host>:<pid>:<start>`.
 */
export function pushToken(receivePackPid: number): string {
  return `push:${hostname()}:${receivePackPid}:${startTime(receivePackPid) ?? 'unknown'}`;
}

/**
 * Whether the push that holds a lock is over without having freed it: its
 * git-receive-pack, on this machine, no longer runs (killed with the
 * gateway's service, by the OOM killer, by a crash). A holder on another
 * machine, or not a push, is never judged gone: its lock expires instead.
 */
export function pushGone(holder: string): boolean {
  const match = /^push:(.+):(\d+):(\d+)$/.exec(holder);
  if (!match || match[1] !== hostname()) return false;
  return startTime(Number(match[2])) !== match[3];
}

/** The process's start time in clock ticks after boot (field 22 of /proc/PID/stat), or undefined when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces and parentheses: count after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
