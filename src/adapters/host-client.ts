import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import ssh2 from 'ssh2';
import { HostUnreachableError, shellQuote, type SshTarget } from './ssh.js';
import { hostKeyAlgorithms, isKnownKey, knownHostKeys } from './known-hosts.js';

/** How the gateway logs in to hosts: the settings HostSession uses, read by ssh2 instead of OpenSSH. */
export interface HostClientSettings {
  /** Private key file. */
  identity: string;
  /** known_hosts file: the host's key must be in it (strict checking, as HostSession's `StrictHostKeyChecking=yes`). */
  knownHosts: string;
  /** Milliseconds to wait for the connection and authentication. Default 10 000. */
  readyTimeoutMs?: number;
}

/**
 * An in-process SSH connection to a host (ssh2's client), for sessions that
 * OpenSSH's client cannot serve from the gateway: a remote PTY whose size
 * follows the user's window (`shell`), and remote commands that must end
 * with the user's session (`logs -f`). No process runs on the gateway for
 * it: ending the connection (or the gateway dying) closes the remote
 * session, whose PTY hangs up and signals what runs on it.
 */
export async function connectHost(target: SshTarget, settings: HostClientSettings): Promise<ssh2.Client> {
  const [privateKey, knownText] = await Promise.all([readFile(settings.identity), readFile(settings.knownHosts, 'utf8').catch(() => '')]);
  const known = knownHostKeys(knownText, target.address, target.port);
  if (known.keys.length === 0) throw new HostUnreachableError(target.name, `no key for ${target.address} in ${settings.knownHosts}`);
  const client = new ssh2.Client();
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => {
      client.end();
      const detail = /verification failed/i.test(e.message) ? `its host key is not the one in ${settings.knownHosts}` : e.message;
      reject(new HostUnreachableError(target.name, detail, e));
    };
    client.once('ready', () => {
      client.off('error', fail);
      // Later errors (connection lost) end the connection: its channels close and their owners see it.
      client.on('error', () => undefined);
      resolve(client);
    });
    client.once('error', fail);
    client.connect({
      host: target.address,
      port: target.port,
      username: target.user,
      privateKey,
      hostVerifier: (key: Buffer) => isKnownKey(known, key),
      algorithms: { serverHostKey: hostKeyAlgorithms(known) as ssh2.ServerHostKeyAlgorithm[] },
      readyTimeout: settings.readyTimeoutMs ?? 10_000,
      // A host that vanishes (no FIN) is noticed in about 30 s, as HostSession's ServerAliveInterval.
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
    });
  });
}

export interface HostExecOptions {
  /** A PTY for the command: it then ends (SIGHUP) when the connection does. */
  pty?: ssh2.PseudoTtyOptions;
}

/** Starts argv on the host (each argument quoted for the remote shell); the channel carries its output. */
export function execOnHost(client: ssh2.Client, argv: readonly string[], options: HostExecOptions = {}): Promise<ssh2.ClientChannel> {
  return new Promise((resolve, reject) => {
    client.exec(shellQuote(argv), options.pty ? { pty: options.pty } : {}, (err, channel) => (err ? reject(err) : resolve(channel)));
  });
}

/**
 * A remote command's exit status as a shell reports it, from a channel's
 * `exit` event: its code, or 128 + the signal's number when a signal ended
 * it (ssh2 names it `SIGTERM`; a name this machine does not know counts as
 * 0, so 128 still says "a signal").
 */
export function exitCode(code: number | null, signal?: string): number {
  if (code !== null) return code;
  const name = signal?.startsWith('SIG') ? signal : `SIG${signal}`;
  return 128 + (constants.signals[name as keyof typeof constants.signals] ?? 0);
}
