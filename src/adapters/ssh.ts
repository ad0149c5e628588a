import { createHash } from 'node:crypto';
import { lstat, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { CommandError, run, runDaemon, type RunOptions, type RunResult } from './exec.js';
import { MagratheaError } from '../core/errors.js';
import { sshMasters, type MasterControl, type SshMasterPool } from './ssh-masters.js';

/** Where a host is and who Magrathea is there. */
export interface SshTarget {
  name: string;
  address: string;
  user: string;
  port: number;
}

export interface SshSettings {
  identity: string;
  knownHosts: string;
  /** Directory of the control sockets: `controlDir(stateDir)`. */
  controlDir: string;
  /** Seconds to wait for the TCP connection and authentication. Default 10. */
  connectTimeout?: number;
  /**
   * Seconds a host's master stays up after its last session closed, for the
   * next deploy (gateway.yml `ssh.master_idle`). Default 0: closed with its
   * last session.
   */
  masterIdleSeconds?: number;
  /** The pool the masters are kept in. Default `sshMasters`, this process's. */
  masters?: SshMasterPool;
}

/**
 * Where the control sockets of a gateway live: a short path (a socket path
 * is limited to about 100 bytes, and OpenSSH adds 57 characters to it), one
 * per state directory, so that every process of one gateway shares the
 * connections.
 */
export function controlDir(stateDir: string): string {
  return join(tmpdir(), `magrathea-ssh-${createHash('sha256').update(stateDir).digest('hex').slice(0, 10)}`);
}

/** A host that could not be reached: retrying later may help. */
export class HostUnreachableError extends MagratheaError {
  constructor(readonly host: string, detail: string, cause?: unknown) {
    super(`cannot reach host ${host}: ${detail}`, 'host-unreachable', 1, true, { cause });
    this.name = 'HostUnreachableError';
  }
}

/**
 * One SSH connection to one host, reused by every command and rsync of a
 * deploy: an OpenSSH ControlMaster of the process's pool (`SshMasterPool`),
 * checked (or started) by `open()` and let go by `close()`; the pool keeps
 * it for the next session to that host for `masterIdleSeconds`, then stops
 * it by its pid. Should the gateway die, the master exits by itself a
 * minute after that. Commands are argv arrays, each argument single-quoted
 * for the remote shell, so nothing reaches it unquoted.
 */
export class HostSession {
  private opened = false;

  constructor(
    readonly target: SshTarget,
    private readonly settings: SshSettings,
  ) {}

  /**
   * The master's socket: one per host, user and port, and per process (each
   * process's pool stops the masters it started, which no other process may
   * be using). Short, as controlDir explains.
   */
  controlPath(): string {
    const host = createHash('sha256').update(`${this.target.user}@${this.target.address}:${this.target.port}`).digest('hex').slice(0, 16);
    return `${this.settings.controlDir}/${host}.${process.pid}`;
  }

  /** Options shared by the master, the commands, and rsync's transport. */
  options(): string[] {
    return [
      '-o', 'BatchMode=yes',
      '-o', `IdentityFile=${this.settings.identity}`,
      '-o', 'IdentitiesOnly=yes',
      '-o', `UserKnownHostsFile=${this.settings.knownHosts}`,
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `ConnectTimeout=${this.settings.connectTimeout ?? 10}`,
      '-o', 'ServerAliveInterval=10',
      '-o', `ControlPath=${this.controlPath()}`,
      '-p', String(this.target.port),
      '-l', this.target.user,
    ];
  }

  /** Takes the host's master from the pool: checked with `ssh -O check`, started (or replaced, when dead) if need be. */
  async open(): Promise<void> {
    if (this.opened) return;
    await mkdir(this.settings.controlDir, { recursive: true, mode: 0o700 });
    // A predictable directory in /tmp must be ours, and private: the sockets in it are logged-in connections.
    const dir = await lstat(this.settings.controlDir);
    if (!dir.isDirectory() || dir.uid !== process.getuid?.() || (dir.mode & 0o077) !== 0) {
      throw new MagratheaError(`${this.settings.controlDir} is not a private directory of this user: remove it`, 'unsafe-control-dir');
    }
    await this.pool().acquire(this.controlPath(), this.masterControl(), (this.settings.masterIdleSeconds ?? 0) * 1000);
    this.opened = true;
  }

  private pool(): SshMasterPool {
    return this.settings.masters ?? sshMasters;
  }

  private masterControl(): MasterControl {
    const socket = this.controlPath();
    const connectTimeout = this.settings.connectTimeout ?? 10;
    // The pool stops the master by pid; this is for a gateway that died without stopping it.
    const persist = Math.max(60, (this.settings.masterIdleSeconds ?? 0) + 60);
    return {
      signature: `ControlPath=${socket}`,
      check: async () => {
        const alive = await run('ssh', [...this.options(), '-O', 'check', this.target.address], { reject: false, input: '', timeout: 10_000 });
        const pid = /\(pid=(\d+)\)/.exec(alive.stderr)?.[1];
        return alive.exitCode === 0 && pid ? Number(pid) : undefined;
      },
      start: async () => {
        // A killed master leaves its socket behind, and a new one would refuse to take its place.
        await rm(socket, { force: true });
        try {
          // The master daemonizes (-f) and would hold a pipe open for good: its output goes to a file.
          await runDaemon('ssh', [...this.options(), '-o', 'ControlMaster=yes', '-o', `ControlPersist=${persist}`, '-f', '-N', this.target.address], {
            log: `${this.settings.controlDir}/master.log`,
            timeout: (connectTimeout + 5) * 1000,
          });
        } catch (e) {
          throw new HostUnreachableError(this.target.name, e instanceof CommandError ? lastLine(e.stderr) : (e as Error).message, e);
        }
      },
    };
  }

  /** Runs argv on the host. Throws CommandError (naming the host) on a non-zero exit unless `reject: false`. */
  async exec(argv: readonly string[], options: Pick<RunOptions, 'input' | 'timeout' | 'reject' | 'onLine'> = {}): Promise<RunResult> {
    const result = await run('ssh', [...this.options(), this.target.address, '--', shellQuote(argv)], { input: '', ...options, reject: false });
    // 255 is ssh's own failure (connection lost, refused), not the command's.
    if (result.exitCode === 255 && /^(ssh|Connection|kex_exchange|Control socket)/m.test(result.stderr)) {
      throw new HostUnreachableError(this.target.name, lastLine(result.stderr));
    }
    if (result.exitCode !== 0 && options.reject !== false) {
      throw new CommandError(`${this.target.name}: ${displayArgv(argv)}`, result.exitCode, result.stdout, result.stderr);
    }
    return result;
  }

  /**
   * Copies a local directory's content to a directory on the host over the
   * master connection. `linkDest` (relative to `to`, or absolute on the host)
   * hard-links files unchanged since that release instead of sending them.
   * `mkdir` creates `to` and its parents first, in the same call; those
   * from `closedFrom` down only root can enter (a first deploy's instance
   * root, until the agent's `prepare` gives it to the instance).
   * `release`: the tree is an app's (see RELEASE_MODES).
   */
  async rsyncTo(from: string, to: string, options: { linkDest?: string; mkdir?: boolean; closedFrom?: string; release?: boolean; onLine?: (line: string) => void } = {}): Promise<RunResult> {
    const args = [...(options.release ? RELEASE_MODES : ['-a']), '--delete', '--stats', '-e', ['ssh', ...this.options()].map(rsyncQuote).join(' ')];
    if (options.linkDest) args.push(`--link-dest=${options.linkDest}`);
    // The remote rsync is started by the host's shell: one round trip instead of an `ssh mkdir` first.
    if (options.mkdir) {
      // Below `closedFrom` (included), missing directories are made root's alone (umask 077).
      const open = options.closedFrom ? `mkdir -p ${shellQuote([posix.dirname(options.closedFrom)])} && umask 077 && ` : '';
      args.push(`--rsync-path=${open}mkdir -p ${shellQuote([to])} && rsync`);
    }
    args.push(`${from.replace(/\/?$/, '/')}`, `${this.target.address}:${to}/`);
    try {
      return await run('rsync', args, { input: '', onLine: options.onLine });
    } catch (e) {
      if (e instanceof CommandError && e.exitCode === 255) throw new HostUnreachableError(this.target.name, lastLine(e.stderr), e);
      throw e;
    }
  }

  /** Lets go of the host's master: the pool stops it once no session uses it and its idle time is over. */
  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    await this.pool().release(this.controlPath());
  }
}

/**
 * How an app's release lands on a host: owned by root (the receiving
 * user; owners and groups are not copied), readable by all and writable
 * by root only, so the app cannot change its own code; no setuid, setgid
 * or sticky bit, no device, fifo or socket (no -D). Who may read it at all
 * is decided by the instance root above it (0750, the instance's group).
 */
const RELEASE_MODES = ['-rlt', '--perms', '--chmod=ugo-st,go-w,u+w,a+rX'];

/** A command as a person reads it: an inline script (`sh -c SCRIPT name ...`) is shown by its name. */
function displayArgv(argv: readonly string[]): string {
  const script = argv.indexOf('-c');
  const shown = script >= 0 && argv[script - 1] === 'sh' && (argv[script + 1]?.length ?? 0) > 80 ? [...argv.slice(0, script - 1), ...argv.slice(script + 2)] : argv;
  return shown.map((a) => (a.length > 100 ? `${a.slice(0, 97)}...` : a)).join(' ');
}

/** Quotes argv for a POSIX shell: every argument in single quotes, `'` as `'\''`. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/** rsync splits its -e string on spaces and honours double quotes. Paths here are validated: no quotes. */
function rsyncQuote(arg: string): string {
  return /\s/.test(arg) ? `"${arg}"` : arg;
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).at(-1) ?? 'no message';
}
