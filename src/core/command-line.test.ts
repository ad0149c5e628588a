import { describe, expect, it } from '@jest/globals';
import { parseCommandLine } from './command-line.js';

describe('parseCommandLine', () => {
  it('splits words and keeps quoted text as one argument', () => {
    expect(parseCommandLine("config:set shop@cluster-a KEY='a b' \"OTHER=c'd\"")).toEqual({ argv: ['config:set', 'shop@cluster-a', 'KEY=a b', "OTHER=c'd"] });
    expect(parseCommandLine("git-receive-pack 'shop.git'")).toEqual({ argv: ['git-receive-pack', 'shop.git'] });
    expect(parseCommandLine('  help  ')).toEqual({ argv: ['help'] });
    expect(parseCommandLine('')).toEqual({ argv: [] });
  });

  it('refuses what a shell would interpret, outside quotes', () => {
    for (const line of ['logs x;id', 'logs $(id)', 'logs `id`', 'logs x|y', 'logs x&', 'logs <x', 'logs x\ny', 'logs a\\b', "logs 'x", 'logs "a\\b"', 'logs "a\nb"']) {
      expect(parseCommandLine(line)).toHaveProperty('error');
    }
    expect(parseCommandLine('x'.repeat(5000))).toHaveProperty('error');
  });
});
