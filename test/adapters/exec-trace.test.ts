import { afterAll, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

it('MAGRATHEA_TRACE=FILE appends each process run: its duration, exit code and command, without ssh -o options', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'magrathea-trace-'));
  dirs.push(dir);
  const file = join(dir, 'trace');
  process.env.MAGRATHEA_TRACE = file;
  try {
    await run('sh', ['-c', 'sleep 0.2; exit 3', 'sh', '-o', 'BatchMode=yes'], { reject: false });
    await run('true', []);
  } finally {
    delete process.env.MAGRATHEA_TRACE;
  }
  await run('true', ['not-traced']);
  const lines = (await readFile(file, 'utf8')).trim().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^\d+ (\d+)ms exit 3 sh -c 'sleep 0\.2; exit 3' sh$/);
  expect(Number(/ (\d+)ms /.exec(lines[0]!)![1])).toBeGreaterThanOrEqual(200);
  expect(lines[1]).toMatch(/^\d+ \d+ms exit 0 true$/);
});
