import { describe, expect, it } from '@jest/globals';
import { createHmac } from 'node:crypto';
import { hostKeyAlgorithms, isKnownKey, knownHostKeys } from './known-hosts.js';

const key = (n: number) => Buffer.from(`key-${n}`);
const b64 = (n: number) => key(n).toString('base64');

function hashed(name: string): string {
  const salt = Buffer.from('0123456789abcdefghij');
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

const TEXT = [
  '# comment',
  '',
  `web-1,127.0.0.1 ssh-ed25519 ${b64(1)} root@web-1`,
  `[127.0.0.2]:2222 ecdsa-sha2-nistp256 ${b64(2)}`,
  `${hashed('10.0.0.3')} ssh-rsa ${b64(3)}`,
  `*.example.com,!bad.example.com ssh-ed25519 ${b64(4)}`,
  `@revoked * ssh-ed25519 ${b64(5)}`,
  `@cert-authority * ssh-ed25519 ${b64(6)}`,
].join('\n');

describe('knownHostKeys', () => {
  it('finds a host by name or address, and [address]:port off port 22', () => {
    expect(knownHostKeys(TEXT, '127.0.0.1', 22).keys).toEqual([{ type: 'ssh-ed25519', blob: key(1) }]);
    expect(knownHostKeys(TEXT, 'web-1', 22).keys).toHaveLength(1);
    expect(knownHostKeys(TEXT, '127.0.0.1', 2222).keys).toEqual([]);
    expect(knownHostKeys(TEXT, '127.0.0.2', 2222).keys).toEqual([{ type: 'ecdsa-sha2-nistp256', blob: key(2) }]);
    expect(knownHostKeys(TEXT, '127.0.0.2', 22).keys).toEqual([]);
  });

  it('reads hashed host names, patterns and negations; skips certificate authorities', () => {
    expect(knownHostKeys(TEXT, '10.0.0.3', 22).keys).toEqual([{ type: 'ssh-rsa', blob: key(3) }]);
    expect(knownHostKeys(TEXT, '10.0.0.4', 22).keys).toEqual([]);
    expect(knownHostKeys(TEXT, 'www.example.com', 22).keys).toEqual([{ type: 'ssh-ed25519', blob: key(4) }]);
    expect(knownHostKeys(TEXT, 'bad.example.com', 22).keys).toEqual([]);
    expect(knownHostKeys(TEXT, 'www.example.com', 22).keys.some((k) => k.blob.equals(key(6)))).toBe(false);
  });

  it('accepts only a listed key that is not revoked, and offers the algorithms of the listed types', () => {
    const known = knownHostKeys(`${TEXT}\n127.0.0.1 ssh-ed25519 ${b64(5)}`, '127.0.0.1', 22);
    expect(isKnownKey(known, key(1))).toBe(true);
    expect(isKnownKey(known, key(2))).toBe(false);
    expect(isKnownKey(known, key(5))).toBe(false);
    expect(hostKeyAlgorithms(knownHostKeys(TEXT, '10.0.0.3', 22))).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });
});
