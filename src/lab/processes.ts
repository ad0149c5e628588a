import { setTimeout as sleep } from 'node:timers/promises';
import { readFile, readdir, readlink } from 'node:fs/promises';

/**
 * Processes found by the mount namespace they run in. Every process of a
 * lab host (its daemons, their workers, an SSH session's shell) runs in the
 * host's namespace, whatever started it: finding them there misses none,
 * even after a crash lost the lab's records.
 */
export async function processesInNamespaces(inodes: ReadonlySet<number>): Promise<number[]> {
  if (inodes.size === 0) return [];
  const found: number[] = [];
  for (const pid of await listProcesses()) {
    const inode = await namespaceOf(pid);
    if (inode !== undefined && inodes.has(inode)) found.push(pid);
  }
  return found;
}

/** Every live process but init and this one. */
export async function listProcesses(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== process.pid && pid !== 1 && (await isAlive(pid))) pids.push(pid);
  }
  return pids;
}

/** The inode of a process's mount namespace, or undefined when it is gone. */
export async function namespaceOf(pid: number): Promise<number | undefined> {
  try {
    const link = await readlink(`/proc/${pid}/ns/mnt`);
    const match = /^mnt:\[([0-9]+)\]$/.exec(link);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process exists and is not a zombie (a zombie has exited: only its parent's wait is missing). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Stops processes by PID: SIGTERM, which lets daemons stop their workers
 * and remove their sockets, then SIGKILL for whatever is left after
 * `graceMs`. Returns the PIDs that had to be killed.
 */
export async function stopProcesses(pids: readonly number[], graceMs = 2000): Promise<number[]> {
  const targets = pids.filter((pid) => pid > 1 && pid !== process.pid);
  for (const pid of targets) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let alive = targets;
  while (Date.now() < deadline) {
    alive = await filterAlive(alive);
    if (alive.length === 0) return [];
    await sleep(50);
  }
  for (const pid of alive) signal(pid, 'SIGKILL');
  for (let i = 0; i < 100 && (await filterAlive(alive)).length > 0; i++) await sleep(20);
  return alive;
}

async function filterAlive(pids: readonly number[]): Promise<number[]> {
  const alive: number[] = [];
  for (const pid of pids) if (await isAlive(pid)) alive.push(pid);
  return alive;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}
