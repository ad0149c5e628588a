import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { waitFor } from './wait.js';

let terminals = 0;

/**
 * A real terminal: a tmux server of the test's own (its socket in `dir`),
 * running one program, stopped by PID. The pane stays after its program
 * exits, with the exit status printed: tmux's own #{pane_dead_status} is
 * not reliable (a pane's program was seen left a zombie, unreaped).
 */
export class Terminal {
  private readonly socket: string;
  private readonly conf: string;
  pid?: number;

  constructor(dir: string) {
    this.socket = join(dir, `tmux-${++terminals}.sock`);
    this.conf = join(dir, 'tmux.conf');
  }

  private tmux(...args: string[]) {
    return run('tmux', ['-S', this.socket, '-f', this.conf, ...args], { timeout: 10_000 });
  }

  async open(argv: string[], cols = 160, rows = 40): Promise<void> {
    await writeFile(this.conf, 'set -g remain-on-exit on\nset -g history-limit 1000\n');
    await this.tmux('new-session', '-d', '-s', 't', '-x', String(cols), '-y', String(rows), 'sh', '-c', '"$@"; echo "@exit=$?@"', 'sh', ...argv);
    this.pid = Number((await this.tmux('display-message', '-p', '#{pid}')).stdout.trim());
  }

  async screen(): Promise<string> {
    return (await this.tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', 't')).stdout;
  }

  /** A line typed, then Enter (a trailing `;` is sent by its code: tmux reads one as its own separator). */
  async type(line: string): Promise<void> {
    const text = line.endsWith(';') ? line.slice(0, -1) : line;
    if (text) await this.tmux('send-keys', '-t', 't', '-l', text);
    if (text !== line) await this.tmux('send-keys', '-t', 't', '-H', '3b');
    await this.tmux('send-keys', '-t', 't', 'Enter');
  }

  /** A key by tmux's name for it (`C-c`). */
  async key(name: string): Promise<void> {
    await this.tmux('send-keys', '-t', 't', name);
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.tmux('resize-window', '-t', 't', '-x', String(cols), '-y', String(rows));
  }

  async until(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return waitFor(`${pattern} on the terminal`, async () => (await this.screen()).match(pattern) ?? undefined, timeoutMs, async () => `the screen:\n${await this.screen()}`);
  }

  /** The exit status of the terminal's program, once it ended. */
  async exitStatus(timeoutMs = 15_000): Promise<number> {
    return Number((await this.until(/@exit=(\d+)@$/m, timeoutMs))[1]);
  }

  /** Types `command` (until `pattern` shows on the screen, retyping it every 2 s), and returns the match. */
  async ask(command: string, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    let typed = 0;
    const probe = async () => {
      if (Date.now() - typed > 2_000) {
        await this.type(command);
        typed = Date.now();
      }
      return (await this.screen()).match(pattern) ?? undefined;
    };
    return waitFor(`${pattern} on the terminal`, probe, timeoutMs, async () => `the screen:\n${await this.screen()}`);
  }

  close(): void {
    if (this.pid) process.kill(this.pid, 'SIGTERM');
    this.pid = undefined;
  }
}
