import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** How the pool drives one master (HostSession's side: the ssh commands). */
export interface MasterControl {
  /** The pid of the master answering on the control socket (`ssh -O check`), or undefined when none answers. */
  check(): Promise<number | undefined>;
  /** Starts a master, which detaches; a stale socket left by a dead one is removed first. */
  start(): Promise<void>;
  /** Text the master's command line holds (its control path): a recorded pid is killed only while it is still that master. */
  signature: string;
}

interface Master {
  /** The pid of the master this pool started, recorded from `ssh -O check`. */
  pid?: number;
  /** Sessions open on it now. */
  users: number;
  /** Milliseconds it stays up once its last user is gone (the last user's setting). */
  idleMs: number;
  timer?: NodeJS.Timeout;
  /** Starts, checks and stops of this master, one at a time. */
  turn: Promise<unknown>;
  signature: string;
}

/**
 * The SSH masters (OpenSSH ControlMaster connections) of this process, one
 * per host, user and port (and control directory), shared by every session
 * to that host: a deploy opens no new connection when the previous one left
 * its master up. Each is checked before use (a dead one is replaced), kept
 * `idleMs` after its last user, then stopped by its pid; `close()` stops
 * them all, and so does this process's exit. A session's close only lets
 * go of the master: another session may be using it.
 */
export class SshMasterPool {
  private readonly masters = new Map<string, Master>();
  private hooked = false;

  /** Makes sure the master of `key` is up (checked, started or replaced) and counts one more user of it. */
  async acquire(key: string, control: MasterControl, idleMs: number): Promise<void> {
    let master = this.masters.get(key);
    if (!master) {
      master = { users: 0, idleMs, turn: Promise.resolve(), signature: control.signature };
      this.masters.set(key, master);
    }
    master.users++;
    master.idleMs = idleMs;
    clearTimeout(master.timer);
    master.timer = undefined;
    const m = master;
    try {
      await this.inTurn(m, async () => {
        const pid = await control.check();
        if (pid !== undefined) {
          m.pid = pid;
          return;
        }
        // Dead, or hung and not answering: whatever is left of it goes before a new one takes its socket.
        if (m.pid !== undefined) await stopPid(m.pid, m.signature);
        m.pid = undefined;
        this.hookExit();
        await control.start();
        m.pid = await control.check();
        if (m.pid === undefined) throw new Error('the SSH master started but does not answer on its control socket');
      });
    } catch (e) {
      this.release(key);
      throw e;
    }
  }

  /** One user fewer; the master is stopped once it has none for its idle time (at once with 0). */
  release(key: string): Promise<void> {
    const master = this.masters.get(key);
    if (!master || master.users === 0) return Promise.resolve();
    master.users--;
    if (master.users > 0) return Promise.resolve();
    // Never started (the host could not be reached): nothing to keep.
    if (master.pid === undefined) {
      if (this.masters.get(key) === master) this.masters.delete(key);
      return Promise.resolve();
    }
    if (master.idleMs <= 0) return this.stopIdle(key, master);
    master.timer = setTimeout(() => void this.stopIdle(key, master), master.idleMs);
    master.timer.unref();
    return Promise.resolve();
  }

  /** The pid of the master of `key`, as last recorded (for the tests and the benches). */
  pidOf(key: string): number | undefined {
    return this.masters.get(key)?.pid;
  }

  /** Masters up, and sessions using them. */
  stats(): { masters: number; users: number } {
    const all = [...this.masters.values()].filter((m) => m.pid !== undefined);
    return { masters: all.length, users: all.reduce((n, m) => n + m.users, 0) };
  }

  /** Stops every master by its pid, in use or not (the worker stops). */
  async close(): Promise<void> {
    await Promise.all(
      [...this.masters.entries()].map(([key, m]) => {
        clearTimeout(m.timer);
        return this.inTurn(m, async () => {
          if (m.pid !== undefined) await stopPid(m.pid, m.signature);
          m.pid = undefined;
          if (this.masters.get(key) === m) this.masters.delete(key);
        });
      }),
    );
  }

  private stopIdle(key: string, master: Master): Promise<void> {
    return this.inTurn(master, async () => {
      // Taken again while this waited for its turn: it stays.
      if (master.users > 0) return;
      if (master.pid !== undefined) await stopPid(master.pid, master.signature);
      master.pid = undefined;
      if (this.masters.get(key) === master) this.masters.delete(key);
    });
  }

  private inTurn(master: Master, step: () => Promise<void>): Promise<void> {
    const next = master.turn.then(step);
    master.turn = next.catch(() => undefined);
    return next;
  }

  /** Should the process end with masters up (an exception, process.exit), they are stopped by pid on its way out. */
  private hookExit(): void {
    if (this.hooked) return;
    this.hooked = true;
    process.once('exit', () => {
      for (const m of this.masters.values()) if (m.pid !== undefined && isMaster(m.pid, m.signature)) killQuietly(m.pid, 'SIGTERM');
    });
  }
}

/** The masters of this process: every HostSession's unless its settings name another pool. */
export const sshMasters = new SshMasterPool();

/** Stops a master by pid (TERM, then KILL after 2 s), if that pid is still that master. */
async function stopPid(pid: number, signature: string): Promise<void> {
  if (!isMaster(pid, signature)) return;
  killQuietly(pid, 'SIGTERM');
  for (let i = 0; i < 40; i++) {
    await sleep(50);
    if (!isMaster(pid, signature)) return;
  }
  killQuietly(pid, 'SIGKILL');
}

/** Whether `pid` is alive and an ssh whose command line holds `signature` (a pid may have been reused). */
function isMaster(pid: number, signature: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return /(^|\/)ssh$/.test(argv[0] ?? '') && argv.some((a) => a.includes(signature));
  } catch {
    return false;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Gone already.
  }
}
