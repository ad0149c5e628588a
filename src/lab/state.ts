import { readFile, rename, writeFile } from 'node:fs/promises';
import { MagratheaError } from '../core/errors.js';
import type { LabPaths } from './paths.js';
import type { LabShape } from './plan.js';

/**
 * What a lab remembers between commands: its shape (from which every name
 * and address follows) and, per host, the inode of its mount namespace,
 * written before anything is started in it, so that `down` finds every
 * process of a lab that crashed half-way.
 */
export interface LabState {
  version: 1;
  shape: LabShape;
  /** Host name → inode of its mount namespace, for hosts that may have one. */
  namespaces: Record<string, number>;
}

export async function readLabState(lab: LabPaths): Promise<LabState | undefined> {
  let text: string;
  try {
    text = await readFile(lab.state, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const state = JSON.parse(text) as LabState;
    if (state.version !== 1 || typeof state.shape?.clusters !== 'number') throw new Error('unknown format');
    state.namespaces ??= {};
    return state;
  } catch (e) {
    throw new MagratheaError(`${lab.state}: not a lab state file (${(e as Error).message}); remove the lab directory by hand if nothing of it runs`, 'lab-state', 1, false, { cause: e });
  }
}

/** Written whole to a temporary file, then renamed: a crash leaves the old state or the new one. */
export async function writeLabState(lab: LabPaths, state: LabState): Promise<void> {
  await writeFile(`${lab.state}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${lab.state}.tmp`, lab.state);
}
