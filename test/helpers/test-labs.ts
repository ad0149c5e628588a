import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown } from '../../src/lab/down.js';
import { isAlive } from '../../src/lab/processes.js';

/**
 * Where test runs keep their labs: `<pid>` for the run's shared lab,
 * `<pid>-<name>` for a suite's own, where pid is jest's main process.
 */
export const TEST_LABS = join(tmpdir(), 'magrathea-test-labs');

/** A lab directory of this test run; without `name`, the shared one. */
export function runLabDir(name?: string): string {
  const run = process.env.MAGRATHEA_TEST_RUN;
  if (!run) throw new Error('MAGRATHEA_TEST_RUN is not set: run jest with the globalSetup of jest.config.js (test/helpers/lab-global-setup.ts)');
  return join(TEST_LABS, name ? `${run}-${name}` : run);
}

/** Brings down and removes the labs of the runs `select` picks (by the run's PID). Returns the problems met. */
export async function sweepTestLabs(select: (run: number) => Promise<boolean>): Promise<string[]> {
  const problems: string[] = [];
  for (const name of await readdir(TEST_LABS).catch(() => [] as string[])) {
    const run = Number(/^([0-9]+)/.exec(name)?.[1]);
    if (!Number.isInteger(run) || !(await select(run))) continue;
    try {
      await labDown({ dir: join(TEST_LABS, name), purge: true });
    } catch (e) {
      problems.push(`${join(TEST_LABS, name)}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** Labs of runs whose jest process is gone: killed before their teardown. */
export function sweepDeadRuns(): Promise<string[]> {
  return sweepTestLabs(async (run) => !(await isAlive(run)));
}
