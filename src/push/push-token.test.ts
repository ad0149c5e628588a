import { describe, expect, it } from '@jest/globals';
import { hostname } from 'node:os';
import { pushGone, pushToken } from './push-token.js';

describe('push tokens', () => {
  it('name a running process as running, and the same PID with another start time as gone', () => {
    const token = pushToken(process.pid);
    expect(token).toMatch(new RegExp(`^push:${hostname()}:${process.pid}:\\d+$`));
    expect(pushGone(token)).toBe(false);
    expect(pushGone(token.replace(/:\d+$/, ':1'))).toBe(true);
  });

  it('never judge a holder of another machine, or not a push, gone', () => {
    expect(pushGone(`push:another-${hostname()}:1:1`)).toBe(false);
    expect(pushGone('push-1234')).toBe(false);
    expect(pushGone('')).toBe(false);
  });
});
