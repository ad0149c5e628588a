import { describe, expect, it } from '@jest/globals';
import { checkEnvKey } from './values.js';

describe('checkEnvKey', () => {
  it('takes ordinary names', () => {
    for (const name of ['APP_ENV', 'DB_PASSWORD', 'database_url', '_X', 'LDAP_HOST', 'PATHS', 'MY_PATH', 'ENVIRONMENT']) expect(checkEnvKey(name)).toBeUndefined();
  });

  it('refuses names that change how a process starts: loader, shells, PHP ini, interpreters', () => {
    for (const name of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'BASH_ENV', 'ENV', 'PATH', 'PHPRC', 'PHP_INI_SCAN_DIR', 'PHP_VALUE', 'IFS', 'PS4', 'SHELLOPTS', 'GCONV_PATH', 'GLIBC_TUNABLES', 'MALLOC_CHECK_', 'NODE_OPTIONS', 'PERL5OPT', 'PYTHONPATH', 'TMPDIR', 'HOME']) {
      expect(checkEnvKey(name)).toMatch(/changes how programs start/);
    }
  });

  it('refuses what is not a name', () => {
    expect(checkEnvKey('1X')).toMatch(/not a valid variable name/);
    expect(checkEnvKey('A-B')).toMatch(/not a valid variable name/);
  });
});
