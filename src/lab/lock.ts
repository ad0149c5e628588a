import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MagratheaError } from '../core/errors.js';
import type { LabPaths } from './paths.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from './processes.js';

/**
 * Runs `fn` holding the lab's lock, so that two commands (two test workers
 * bringing the same lab up, a `down` during an `up`) take turns. A lock left
 * by a process that died is taken over.
 */
export async function withLabLock<T>(lab: LabPaths, fn: () => Promise<T>, waitMs = 180_000): Promise<T> {
  await mkdir(dirname(lab.lock), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await open(lab.lock, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number((await readFile(lab.lock, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(holder) || holder <= 0 || !(await isAlive(holder))) {
      await rm(lab.lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new MagratheaError(`another lab command (pid ${holder}) is working on ${lab.dir}; wait for it, or remove ${lab.lock} if that process is not a lab command`, 'lab-busy', 1, true);
    }
    await sleep(100);
  }
  try {
    return await fn();
  } finally {
    await rm(lab.lock, { force: true });
  }
}
