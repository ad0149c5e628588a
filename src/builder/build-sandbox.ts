import { randomInt } from 'node:crypto';
import type { BuildSettings } from '../core/config/types.js';

/**
 * The throwaway uids builds run under, one per build, chosen at random: no
 * passwd entry, no file on the machine owned by them before the build.
 * Above systemd's container range (which ends at 0x6FFFFFFF) and below 2^31,
 * which some tools take for a negative number.
 */
export const THROWAWAY_UIDS = { first: 1_900_000_000, count: 100_000_000 };

export function throwawayId(): number {
  return THROWAWAY_UIDS.first + randomInt(THROWAWAY_UIDS.count);
}

/** Seconds between the time limit's TERM and its KILL, for a step that ignores TERM. */
export const KILL_AFTER_SECONDS = 5;

/**
 * Run as root in the new mount namespace (private propagation: nothing
 * leaks out), before the rest of the argv: each directory up to `--` is
 * covered by an empty read-only tmpfs, then the rest is exec'd.
 */
const HIDE_SCRIPT = 'while [ "$1" != -- ]; do mount -t tmpfs -o ro,size=4k,mode=0755 magrathea-hidden "$1" || exit 125; shift; done; shift; exec "$@"';

/**
 * The argv that runs one build command in its own PID, mount, IPC and UTS
 * namespaces (and network namespace, loopback only, when builds.network is
 * deny), as `id` for uid and gid, with no supplementary groups, no
 * capabilities and no way to gain privileges (setuid files do nothing).
 * `hidden` directories (the gateway's state and config: every app's
 * repository, exports and releases) show up empty to it: files there are
 * mostly world-readable, and a build must read only its own tree.
 *
 * Under `prlimit`, as root and so with hard limits the build cannot raise:
 * at most builds.max_processes processes of its uid at once (the uid is
 * the build's own, so the count is the build's: a fork bomb stops there),
 * builds.max_memory of data per process, and no file larger than
 * builds.max_release_size (SIGXFSZ: it could not be shipped anyway).
 *
 * `timeout` is the namespace's first process and stays root: when the
 * command ends or its time is up, timeout exits and the kernel kills every
 * process left in the namespace, background ones included. It is not the
 * command itself because dropping the uid clears the parent-death signal
 * that ties the namespace to unshare, so that a gateway killed mid-build
 * would otherwise leave the build running.
 */
export function sandboxArgv(command: string, id: number, settings: Pick<BuildSettings, 'network' | 'stepTimeoutSeconds' | 'maxProcesses' | 'maxMemory' | 'maxReleaseSize'>, hidden: readonly string[] = []): [string, string[]] {
  const hard = (n: number) => `${n}:${n}`;
  return [
    'unshare',
    [
      '--pid',
      '--fork',
      '--kill-child',
      '--mount-proc',
      '--ipc',
      '--uts',
      ...(settings.network === 'deny' ? ['--net'] : []),
      '--',
      ...(hidden.length > 0 ? ['sh', '-c', HIDE_SCRIPT, 'hide', ...hidden, '--'] : []),
      'timeout',
      `--kill-after=${KILL_AFTER_SECONDS}`,
      String(settings.stepTimeoutSeconds),
      'prlimit',
      `--nproc=${hard(settings.maxProcesses)}`,
      `--data=${hard(settings.maxMemory)}`,
      `--fsize=${hard(settings.maxReleaseSize)}`,
      '--',
      'setpriv',
      `--reuid=${id}`,
      `--regid=${id}`,
      '--clear-groups',
      '--no-new-privs',
      '--bounding-set=-all',
      '--',
      'sh',
      '-c',
      command,
    ],
  ];
}
