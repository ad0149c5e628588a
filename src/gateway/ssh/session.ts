import { EventEmitter } from 'node:events';
import type ssh2 from 'ssh2';
import type { SshSession } from '../../dispatch/command.js';

/**
 * What a session learns before its command: the PTY the client asked for,
 * and window changes, which may come at any time. server.ts feeds it from
 * the session's `pty` and `window-change` requests.
 */
export class SessionTerminal {
  pty?: ssh2.PseudoTtyInfo;
  private readonly resizes = new EventEmitter();

  /** `info` may lack fields (a malformed request): a PTY was asked for all the same. */
  setPty(info: Partial<ssh2.PseudoTtyInfo> | undefined): void {
    this.pty = { term: info?.term || 'xterm', cols: info?.cols ?? 0, rows: info?.rows ?? 0, width: info?.width ?? 0, height: info?.height ?? 0, modes: info?.modes ?? {} };
  }

  resize(size: ssh2.WindowChangeInfo): void {
    if (this.pty) Object.assign(this.pty, { cols: size.cols, rows: size.rows, width: size.width, height: size.height });
    this.resizes.emit('resize', size);
  }

  /** The session for a command on `channel`, aborted when the channel or `connection` closes. */
  session(channel: ssh2.ServerChannel, connection: ssh2.Connection): SshSession {
    const gone = new AbortController();
    const abort = () => gone.abort();
    channel.once('close', () => {
      abort();
      connection.off('close', abort);
      this.resizes.removeAllListeners();
    });
    connection.once('close', abort);
    return {
      channel,
      pty: this.pty,
      onWindowChange: (listener) => void this.resizes.on('resize', listener),
      signal: gone.signal,
    };
  }
}
