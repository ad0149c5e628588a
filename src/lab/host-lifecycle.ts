import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runDaemon, tail } from '../adapters/exec.js';
import { MagratheaError } from '../core/errors.js';
import { serviceStatus, readServicePid, probeSocket } from './host-status.js';
import { createHostNamespace, hostNamespaceInode, releaseHostNamespace } from './namespace.js';
import { onHost, type HostPaths } from './paths.js';
import type { LabHost } from './plan.js';
import { assertPortFree, probePort, waitFor } from './ports.js';
import { isAlive, namespaceOf, processesInNamespaces, stopProcesses } from './processes.js';
import { hostBinds, type LabService } from './services.js';

/** Daemons start with this environment only: nothing of the caller's (a test runner's, a user's shell) leaks into a host. */
const DAEMON_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

const READY_TIMEOUT_MS = 15_000;

/** Whether every daemon of the host runs and answers. */
export async function isHostUp(host: LabHost, paths: HostPaths, services: readonly LabService[]): Promise<boolean> {
  const inode = await hostNamespaceInode(paths);
  if (inode === undefined) return false;
  const statuses = await Promise.all(services.map((s) => serviceStatus(host, paths, s, inode)));
  return statuses.every((s) => s.up);
}

/**
 * Boots a host: checks its addresses are free, creates its namespace
 * (reported through `recordNamespace` before any daemon starts, so a crash
 * from here on leaves a lab that `down` can find), then starts its daemons
 * in order and waits until each answers.
 */
export async function bootHost(host: LabHost, paths: HostPaths, services: readonly LabService[], recordNamespace: (inode: number) => Promise<void>): Promise<void> {
  for (const bind of hostBinds(host, services)) await assertPortFree(host.address, bind.port, `${bind.service} of lab host ${host.name}`);
  await mkdir(paths.logs, { recursive: true });
  const inode = await createHostNamespace(paths);
  await recordNamespace(inode);
  // What the daemons expect in /run, which a boot (tmpfiles.d) would have made.
  for (const dir of ['/run/sshd', '/run/php', '/run/lock', '/run/haproxy']) await mkdir(onHost(paths, dir), { recursive: true });

  for (const service of services) {
    const log = join(paths.logs, `${service.name}.log`);
    try {
      await runDaemon('nsenter', [`--mount=${paths.namespace}`, '--', ...service.start], { log, env: DAEMON_ENV, extendEnv: false });
    } catch (e) {
      throw new MagratheaError(`lab host ${host.name}: ${service.name} did not start: ${(e as Error).message}`, 'lab-start-failed', 1, false, { cause: e });
    }
    const answers = (): Promise<boolean> =>
      'port' in service.ready ? probePort(host.address, service.ready.port, 500) : probeSocket(onHost(paths, service.ready.socket), 500);
    const ready = await waitFor(async () => (await readServicePid(paths, service, inode)) !== undefined && (await answers()), READY_TIMEOUT_MS);
    if (!ready) {
      const where = 'port' in service.ready ? `${host.address}:${service.ready.port}` : service.ready.socket;
      const output = tail(await readFile(log, 'utf8').catch(() => ''));
      throw new MagratheaError(
        `lab host ${host.name}: ${service.name} does not answer on ${where} after ${READY_TIMEOUT_MS / 1000} s${output ? `: ${output}` : ''} (logs: ${log}, ${onHost(paths, '/var/log')})`,
        'lab-start-failed',
      );
    }
  }
}

/**
 * Stops every process of a host, by PID, and drops its namespace (its
 * mounts go with it). The processes are found by namespace: the persisted
 * one, the recorded one, and that of any daemon still named in a pidfile,
 * so a lab whose records were lost half-way is still stopped whole.
 * Returns the PIDs stopped.
 */
export async function haltHost(paths: HostPaths, services: readonly LabService[], recorded: number | undefined): Promise<number[]> {
  // Held by our own bind mount: certainly this host's.
  const persisted = await hostNamespaceInode(paths);
  const candidates = new Set<number>();
  if (persisted !== undefined) candidates.add(persisted);
  if (recorded !== undefined) candidates.add(recorded);
  for (const service of services) {
    const pid = await readServicePid(paths, service, undefined);
    const inode = pid === undefined ? undefined : await namespaceOf(pid);
    if (inode !== undefined) candidates.add(inode);
  }
  // A stale pidfile naming a process of the machine itself: that process is not the lab's.
  const own = await namespaceOf(process.pid);
  if (own !== undefined && own !== persisted) candidates.delete(own);
  const pids: number[] = [];
  for (const pid of await processesInNamespaces(candidates)) {
    // A recorded inode or a stale pidfile may by now name something else (inodes and PIDs are reused): check the process sees this host's layers.
    if ((await namespaceOf(pid)) === persisted || (await seesHostLayers(pid, paths))) pids.push(pid);
  }
  await stopProcesses(pids);
  const left = [];
  for (const pid of pids) if (await isAlive(pid)) left.push(pid);
  if (left.length > 0) throw new MagratheaError(`lab: processes ${left.join(', ')} of ${paths.dir} survived SIGKILL`, 'lab-stop-failed');
  await releaseHostNamespace(paths);
  return pids;
}

/** Whether the process's mounts include this host's /etc overlay. */
async function seesHostLayers(pid: number, paths: HostPaths): Promise<boolean> {
  const mountinfo = await readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '');
  return mountinfo.includes(`upperdir=${onHost(paths, '/etc')},`);
}
