import { describe, expect, it } from '@jest/globals';
import { auditText } from './audit.js';

describe('auditText', () => {
  it('masks the values of config:set, from an SSH command line or an argv', () => {
    expect(auditText(`config:set shop@cluster-b "GREETING=Servus, it's me" DB_PASSWORD=s3cret --env staging`)).toBe('config:set shop@cluster-b GREETING=******** DB_PASSWORD=******** --env staging');
    expect(auditText(['config:set', 'shop', 'TOKEN=abc=def'])).toBe('config:set shop TOKEN=********');
  });

  it('keeps other commands as they were typed, up to 500 characters', () => {
    expect(auditText('releases shop --json')).toBe('releases shop --json');
    expect(auditText(['config:unset', 'shop', 'DB_PASSWORD'])).toBe('config:unset shop DB_PASSWORD');
    expect(auditText(`deploy ${'x'.repeat(600)}`)).toHaveLength(500);
    // A line that does not parse is kept as it came (it was refused), but for config:set, whose values are secrets.
    expect(auditText('releases "shop')).toBe('releases "shop');
    expect(auditText('config:set shop "A=s3cret')).toBe('config:set (a line that does not parse, 25 characters)');
  });

  it('escapes control characters a user typed, after masking', () => {
    expect(auditText('releases shop\u001b]0;pwned\u0007\r\u001b[2K')).toBe('releases shop\\x1b]0;pwned\\x07\\r\\x1b[2K');
    expect(auditText(['config:set', 'shop', 'A=\u001b[31m'])).toBe('config:set shop A=********');
    expect(auditText(['deploy', 'shop\u009b2J'])).toBe('deploy shop\\x9b2J');
  });
});
