import { describe, expect, it } from '@jest/globals';
import { printable } from './printable.js';

describe('printable', () => {
  it('escapes what a terminal would act on, and the backslash, and nothing else', () => {
    expect(printable('releases shop\u001b[2J\u001b]0;owned\u0007\r\n\tx\u007f\u009b31m')).toBe('releases shop\\x1b[2J\\x1b]0;owned\\x07\\r\\n\\tx\\x7f\\x9b31m');
    expect(printable('a\u202eevil\u2066\u2028')).toBe('a\\u202eevil\\u2066\\u2028');
    expect(printable('typed \\x1b')).toBe('typed \\\\x1b');
    expect(printable("Grüezi \"x\" $y 'z' ✓")).toBe("Grüezi \"x\" $y 'z' ✓");
    expect(printable('\u0000')).toMatch(/^[\x20-\x7e]+$/);
  });
});
