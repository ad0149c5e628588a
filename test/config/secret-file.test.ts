import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSecretFile } from '../../src/config/load.js';

/** The panel's password, from a file of its own: refused when others may read it, named in the error. */
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'magrathea-secret-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readSecretFile', () => {
  it('reads the first line of a root-only file', async () => {
    await writeFile(join(dir, 'ok'), 'pa ss\nignored\n', { mode: 0o600 });
    expect(await readSecretFile(join(dir, 'ok'), 'clusters.yml: c1.ispconfig.password_file')).toBe('pa ss');
  });

  it('refuses a file others may read, an empty one and a missing one, naming the file and the field', async () => {
    await writeFile(join(dir, 'open'), 'secret\n');
    await chmod(join(dir, 'open'), 0o644);
    await expect(readSecretFile(join(dir, 'open'), 'clusters.yml: c1.ispconfig.password_file')).rejects.toThrow(/^clusters\.yml: c1\.ispconfig\.password_file: .*\/open may be read or changed by others \(mode 644/);
    await writeFile(join(dir, 'empty'), '\n', { mode: 0o600 });
    await expect(readSecretFile(join(dir, 'empty'), 'f')).rejects.toThrow(/empty: its first line is the password/);
    await expect(readSecretFile(join(dir, 'missing'), 'f')).rejects.toThrow(/^f: cannot read .*\/missing/);
  });
});
