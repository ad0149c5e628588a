import { readdir, rm } from 'node:fs/promises';
import { MagratheaError } from '../core/errors.js';
import { pathExists } from './files.js';
import { haltHost } from './host-lifecycle.js';
import { withLabLock } from './lock.js';
import { mountsUnder, unmountUnder } from './mounts.js';
import { hostPaths, labPaths } from './paths.js';
import { planLab } from './plan.js';
import { assertLabRequirements } from './requirements.js';
import { hostServices, installedPhpVersions, type LabService } from './services.js';
import { readLabState, writeLabState } from './state.js';

export interface LabDownOptions {
  dir: string;
  /** Also remove the lab directory: the hosts' files, keys and configuration. Default false. */
  purge?: boolean;
}

export interface LabDownResult {
  /** PIDs stopped. */
  stopped: number[];
  /** There was a lab directory. */
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
  if (!(await pathExists(lab.dir))) return { stopped: [], found: false, purged: false };
  await assertLabRequirements();
  return withLabLock(lab, async () => {
    const state = await readLabState(lab);
    if (!state && !(await pathExists(lab.hosts)) && options.purge) {
      throw new MagratheaError(`${lab.dir} does not look like a lab directory (no lab.json, no hosts/): not removing it`, 'lab-not-a-lab');
    }
    const php = await installedPhpVersions();
    // Every host the lab may have had: the planned ones, and any other with files or a namespace (a lab of another shape, before).
    const hosts = new Map<string, LabService[]>();
    if (state) for (const host of planLab(state.shape).hosts) hosts.set(host.name, hostServices(host, php));
    for (const dir of [lab.hosts, lab.namespaces]) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        // Unknown shape: look for every service a host might run.
        if (!hosts.has(name)) hosts.set(name, hostServices({ name, cluster: '', address: '127.0.0.1', roles: ['web', 'cache', 'balancer'] }, php));
      }
    }
    const stopped = (await Promise.all([...hosts].map(([name, services]) => haltHost(hostPaths(lab, name), services, state?.namespaces[name])))).flat();
    await unmountUnder(lab.dir);
    if (state) await writeLabState(lab, { ...state, namespaces: {} });

    const left = await mountsUnder(lab.dir);
    if (left.length > 0) throw new MagratheaError(`lab down: still mounted: ${left.join(', ')}`, 'lab-stop-failed');
    if (options.purge) await rm(lab.dir, { recursive: true, force: true });
    return { stopped, found: true, purged: options.purge === true };
  });
}
