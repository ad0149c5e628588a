import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import ssh2 from 'ssh2';
import { loadGatewayConfig } from './load.js';
import type { GatewayConfig, UserConfig } from '../core/config/types.js';

const { utils } = ssh2;

/** A configured public key: its user, and the parsed key that verifies signatures. */
export interface KnownKey {
  user: UserConfig;
  key: ssh2.ParsedKey;
}

/** How long the configuration directory must be quiet before users.yml is read again: an editor or Puppet writes in several steps. */
const SETTLE_MS = 250;

/**
 * The users of users.yml as the gateway knows them now, read again on
 * SIGHUP (reload()) and when the configuration directory changes (watch()).
 * A configuration that does not validate is reported and the previous one
 * kept: a typo must neither lock everyone out nor let anyone in.
 * Emits `change` (users) after each reload that took, so that the SSH
 * server and the HTTP API close what a removed user still holds.
 */
export class LiveUsers extends EventEmitter<{ change: [Record<string, UserConfig>] }> {
  private current: Record<string, UserConfig>;
  private keys: Map<string, KnownKey>;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private reloading: Promise<boolean> = Promise.resolve(true);

  /** `report` is told of each reload, done or refused, in one line. */
  constructor(
    private readonly dir: string,
    config: Pick<GatewayConfig, 'users'>,
    private readonly report: (line: string) => void = () => undefined,
  ) {
    super();
    this.current = config.users;
    this.keys = authorizedKeys(config.users);
  }

  get users(): Record<string, UserConfig> {
    return this.current;
  }

  /** The user a public key (`<algo> <base64 blob>`) belongs to now, or undefined. */
  byKey(id: string): KnownKey | undefined {
    return this.keys.get(id);
  }

  /** Reads the configuration again; resolves to whether it took. Reloads run one after the other. */
  reload(why: string): Promise<boolean> {
    this.reloading = this.reloading.then(async () => {
      let users: Record<string, UserConfig>;
      try {
        users = (await loadGatewayConfig(this.dir)).users;
      } catch (e) {
        this.report(`users not reloaded (${why}), the previous ones are kept: ${(e as Error).message.replace(/\n/g, '; ')}`);
        return false;
      }
      const before = Object.keys(this.current).length;
      this.current = users;
      this.keys = authorizedKeys(users);
      this.report(`users reloaded (${why}): ${Object.keys(users).length} users, ${before} before`);
      this.emit('change', users);
      return true;
    });
    return this.reloading;
  }

  /** Reloads when users.yml changes in the directory (renamed into place, written, removed). */
  watch(): void {
    if (this.watcher) return;
    this.watcher = watch(this.dir, (_event, file) => {
      if (file !== null && file !== 'users.yml') return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.reload('users.yml changed'), SETTLE_MS);
    });
    this.watcher.on('error', (e) => this.report(`cannot watch ${this.dir} for changes to users.yml (SIGHUP still reloads it): ${e.message}`));
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}

/** The key's identity as the SSH server sees it in an authentication request. */
export function keyId(algo: string, data: Buffer): string {
  return `${algo} ${data.toString('base64')}`;
}

/** Every configured key, by identity, with its user and parsed key. */
function authorizedKeys(users: Record<string, UserConfig>): Map<string, KnownKey> {
  const map = new Map<string, KnownKey>();
  for (const user of Object.values(users)) {
    for (const line of user.keys) {
      const key = utils.parseKey(line);
      if (key instanceof Error) continue; // validated at load: cannot happen
      map.set(keyId(key.type, key.getPublicSSH()), { user, key });
    }
  }
  return map;
}
