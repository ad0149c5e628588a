import { describe, expect, it } from '@jest/globals';
import { Slots } from './slots.js';

describe('Slots', () => {
  it('gives max slots per key, each freed once however often it is released', () => {
    const slots = new Slots(2);
    const a1 = slots.take('a');
    const a2 = slots.take('a');
    expect(a1 && a2).toBeDefined();
    expect(slots.take('a')).toBeUndefined();
    expect(slots.take('b')).toBeDefined();
    a1!();
    a1!();
    expect(slots.count('a')).toBe(1);
    expect(slots.take('a')).toBeDefined();
    expect(slots.take('a')).toBeUndefined();
  });
});
