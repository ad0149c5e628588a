import { describe, expect, it } from '@jest/globals';
import { formatTable } from './table.js';

describe('formatTable', () => {
  it('aligns columns two spaces apart, without trailing blanks', () => {
    expect(formatTable([['A', 'BB', 'C'], ['aaa', 'b', '']])).toBe('A    BB  C\naaa  b\n');
  });
  it('right-aligns the columns asked for', () => {
    expect(formatTable([['NAME', 'N'], ['x', '100']], [1])).toBe('NAME    N\nx     100\n');
  });
  it('prints nothing for no rows', () => {
    expect(formatTable([])).toBe('');
  });
});
