import { createHmac, timingSafeEqual } from 'node:crypto';

/** A host key as known_hosts lists it: its type (`ssh-ed25519`) and its blob (the base64 field, decoded). */
export interface KnownHostKey {
  type: string;
  blob: Buffer;
}

export interface KnownHostKeys {
  /** Keys the host may present. */
  keys: KnownHostKey[];
  /** Keys marked `@revoked`: refused even if listed as known. */
  revoked: Buffer[];
}

/**
 * The keys an OpenSSH known_hosts text lists for `host` (a name or an
 * address, as connected to) on `port`: plain and hashed (`|1|salt|hash`)
 * host fields, `[host]:port` for ports other than 22, `*`/`?` patterns and
 * `!` negations, as ssh(1) reads them. `@cert-authority` lines are skipped:
 * host certificates are not checked here, only plain keys.
 */
export function knownHostKeys(text: string, host: string, port: number): KnownHostKeys {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const found: KnownHostKeys = { keys: [], revoked: [] };
  for (const raw of text.split('\n')) {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]!.startsWith('#')) continue;
    const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64 || marker === '@cert-authority') continue;
    if (!hostsMatch(hosts, name)) continue;
    const blob = Buffer.from(base64, 'base64');
    if (marker === '@revoked') found.revoked.push(blob);
    else found.keys.push({ type, blob });
  }
  return found;
}

/** Whether `key` (the blob the server presented) is one of `known`'s keys and not revoked. */
export function isKnownKey(known: KnownHostKeys, key: Buffer): boolean {
  if (known.revoked.some((r) => r.equals(key))) return false;
  return known.keys.some((k) => k.blob.equals(key));
}

/** The host key algorithms to offer for the known key types, so the server picks one we can check. */
export function hostKeyAlgorithms(known: KnownHostKeys): string[] {
  const algorithms = known.keys.flatMap((k) => (k.type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [k.type]));
  return [...new Set(algorithms)];
}

function hostsMatch(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const expected = Buffer.from(hash, 'base64');
    const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
  let matched = false;
  for (const pattern of field.split(',')) {
    const negated = pattern.startsWith('!');
    if (!globMatches(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** ssh's host patterns: `*` any run of characters, `?` one; case-insensitive, as host names are. */
function globMatches(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 'i').test(name);
}
