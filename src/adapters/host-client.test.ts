import { describe, expect, it } from '@jest/globals';
import { exitCode } from './host-client.js';

describe('exitCode', () => {
  it('is the code when there is one, else 128 + the signal\'s number, named as ssh2 names it or bare', () => {
    expect(exitCode(0)).toBe(0);
    expect(exitCode(3, undefined)).toBe(3);
    expect(exitCode(null, 'SIGTERM')).toBe(143);
    expect(exitCode(null, 'KILL')).toBe(137);
    expect(exitCode(null, 'SIGNOTONE')).toBe(128);
  });
});
