import { describe, expect, test } from '@jest/globals';
import { runCli } from '../helpers/cli.js';

/** What `magrathea lab` refuses before it touches anything. */
describe('magrathea lab: usage', () => {
  test('without a verb, or with an unknown one, it says which verbs exist and exits 2', async () => {
    for (const argv of [['lab'], ['lab', 'start']]) {
      const result = await runCli(argv);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/use up, status or down/);
    }
  });

  test('a bad shape is refused with the allowed range', async () => {
    expect(await runCli(['lab', 'up', '--clusters', '0', '--dir', '/tmp/magrathea-lab-never'])).toMatchObject({ status: 2, stderr: expect.stringContaining('--clusters must be a whole number from 1 to 9') });
    expect(await runCli(['lab', 'up', '--hosts', 'two', '--dir', '/tmp/magrathea-lab-never'])).toMatchObject({ status: 2, stderr: expect.stringContaining('--hosts needs a whole number') });
    expect(await runCli(['lab', 'down', '--force'])).toMatchObject({ status: 2, stderr: expect.stringContaining('unknown option --force') });
  });

  test('a lab directory under a path the hosts overlay is refused', async () => {
    const result = await runCli(['lab', 'up', '--dir', '/etc/lab']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('lies under /etc, which every lab host overlays');
  });

  test('each verb has its own help', async () => {
    const result = await runCli(['lab', 'down', '--help']);
    expect(result).toMatchObject({ status: 0, stdout: expect.stringContaining('usage: magrathea lab down [--dir DIR] [--purge]') });
  });
});
