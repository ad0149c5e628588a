import { describe, expect, it } from '@jest/globals';
import { appArgument } from './app-argument.js';

describe('appArgument', () => {
  it('is the first positional argument, never an option value', () => {
    expect(appArgument(['--env', 'shop-eu', 'hello'])).toBe('hello');
    expect(appArgument(['--json', 'hello@cluster-a'])).toBe('hello');
    expect(appArgument(['-n', '5', 'hello'])).toBe('hello');
    expect(appArgument(['--env=staging', 'hello'])).toBe('hello');
    expect(appArgument(['--env'])).toBeUndefined();
    expect(appArgument([])).toBeUndefined();
  });
});
