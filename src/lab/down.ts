import { readdir, rm } from 'node:fs/promises';
import { stopPrivateRedis } from '../adapters/redis-server.js';
import { MagratheaError } from '../core/errors.js';
import { pathExists } from '../lib/paths.js';
import { haltHost } from './host-lifecycle.js';
import { withLabLock } from './lock.js';
import { mountsUnder, unmountUnder } from './mounts.js';
import { hostPaths, labPaths } from './paths.js';
import { planLab } from './plan.js';
import { assertLabRequirements } from './requirements.js';
import { forEachSettled } from '../lib/settle.js';
import { readLabState, writeLabState } from './state.js';

export interface LabDownOptions {
  dir: string;
  /** Also remove the lab directory: the hosts' files, keys and configuration. Default false. */
  purge?: boolean;
}

export interface LabDownResult {
  /** PIDs stopped. */
  stopped: number[];
  /** There was a lab there. */
  found: boolean;
  purged: boolean;
}

/**
 * Stops every process of every host by PID and unmounts everything the lab
 * mounted, whatever state the lab is in (up, half up, crashed). Hosts'
 * files stay for the next `up` unless `purge`.
 */
export async function labDown(options: LabDownOptions): Promise<LabDownResult> {
  const lab = labPaths(options.dir);
  // Nothing of a lab there: leave the directory alone (a mistyped --dir with --purge removes nothing).
  const traces = await Promise.all([lab.state, lab.hosts, lab.namespaces].map(pathExists));
  if (!traces.some(Boolean)) return { stopped: [], found: false, purged: false };
  await assertLabRequirements();
  return withLabLock(lab, async () => {
    // A damaged state file must not keep a lab running: the hosts are also found by their directories.
    const state = await readLabState(lab).catch(() => undefined);
    // Every host the lab may have had: the planned ones, and any other with files or a namespace (from a lab of another shape).
    const hosts = new Set<string>(state ? planLab(state.shape).hosts.map((h) => h.name) : []);
    for (const dir of [lab.hosts, lab.namespaces]) {
      for (const name of await readdir(dir).catch(() => [] as string[])) hosts.add(name.replace(/\.uts$/, ''));
    }
    const stopped = (await forEachSettled([...hosts], (name) => haltHost(hostPaths(lab, name)))).flat();
    // The lab gateway's own Redis, when a gateway process was killed before it could stop it.
    const redis = await stopPrivateRedis(lab.gatewayState);
    if (redis !== undefined) stopped.push(redis);
    await unmountUnder(lab.dir);
    if (state) await writeLabState(lab, { ...state, namespaces: {} });

    const left = await mountsUnder(lab.dir);
    if (left.length > 0) throw new MagratheaError(`lab down: still mounted: ${left.join(', ')}`, 'lab-stop-failed');
    if (options.purge) await rm(lab.dir, { recursive: true, force: true });
    return { stopped, found: true, purged: options.purge === true };
  });
}
