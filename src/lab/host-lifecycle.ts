import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, runDaemon, tail } from '../adapters/exec.js';
import { pathExists } from '../lib/paths.js';
import { MagratheaError } from '../core/errors.js';
import { serviceAnswers, serviceEndpoint, serviceStatus, readServicePid } from './host-status.js';
import type { HostBind } from './host-view.js';
import { createHostNamespace, enterHost, hostNamespaceInode, releaseHostNamespace } from './namespace.js';
import { onHost, type HostPaths } from './paths.js';
import type { LabHost } from './plan.js';
import { waitFor } from '../lib/wait.js';
import { assertPortFree } from './ports.js';
import { isAlive, listProcesses, namespaceOf, stopProcesses } from './processes.js';
import { hostBinds, type LabService } from './services.js';

/** Daemons start with this environment only: nothing of the caller's (a test runner's, a user's shell) leaks into a host. */
const DAEMON_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

const READY_TIMEOUT_MS = 15_000;

/**
 * Whether every daemon of the host runs and answers. Asked for a second
 * before saying no: a daemon being reloaded (FPM re-executes itself on
 * USR2 and rewrites its pidfile) must not make `up` reboot a host that a
 * test or a deploy is using.
 */
export async function isHostUp(host: LabHost, paths: HostPaths, services: readonly LabService[]): Promise<boolean> {
  const inode = await hostNamespaceInode(paths);
  if (inode === undefined) return false;
  return waitFor(async () => (await Promise.all(services.map((s) => serviceStatus(host, paths, s, inode)))).every((s) => s.up), 1000, 100);
}

/**
 * Boots a host: checks its addresses are free, creates its namespace
 * (reported through `recordNamespace` before any daemon starts, so a crash
 * from here on leaves a lab that `down` can find), then starts its daemons
 * in order and waits until each answers.
 */
export async function bootHost(host: LabHost, paths: HostPaths, services: readonly LabService[], recordNamespace: (inode: number) => Promise<void>, binds: readonly HostBind[] = []): Promise<void> {
  for (const bind of hostBinds(host, services)) await assertPortFree(host.address, bind.port, `${bind.service} of lab host ${host.name}`);
  await mkdir(paths.logs, { recursive: true });
  const inode = await createHostNamespace(paths, host.name, binds);
  await recordNamespace(inode);
  // What the daemons expect in /run, which a boot (tmpfiles.d) would have made.
  for (const dir of ['/run/sshd', '/run/php', '/run/lock', '/run/haproxy', '/run/mysqld']) await mkdir(onHost(paths, dir), { recursive: true });

  for (const service of services) {
    const log = join(paths.logs, `${service.name}.log`);
    const [program, ...prefix] = enterHost(paths);
    if (service.setup) await setUpOnce(host, paths, service, log);
    try {
      await runDaemon(program!, [...prefix, ...service.start], { log, env: DAEMON_ENV, extendEnv: false });
    } catch (e) {
      throw new MagratheaError(`lab host ${host.name}: ${service.name} did not start: ${(e as Error).message}`, 'lab-start-failed', 1, false, { cause: e });
    }
    const ready = await waitFor(async () => (await readServicePid(paths, service, inode)) !== undefined && (await serviceAnswers(host, paths, service, 500)), READY_TIMEOUT_MS);
    if (!ready) {
      const where = serviceEndpoint(host, service);
      const output = tail(await readFile(log, 'utf8').catch(() => ''));
      throw new MagratheaError(
        `lab host ${host.name}: ${service.name} does not answer on ${where} after ${READY_TIMEOUT_MS / 1000} s${output ? `: ${output}` : ''} (logs: ${log}, ${onHost(paths, '/var/log')})`,
        'lab-start-failed',
      );
    }
  }
}

/** Marks a service's data directory as set up; inside it, so that the mark goes with the files. */
const SET_UP_MARK = '.magrathea-lab-set-up';

/**
 * Runs a service's setup in the host unless its data directory is marked
 * done. A setup that was cut short (a crash, a kill) left no mark: its
 * directory is emptied and the setup runs again.
 */
async function setUpOnce(host: LabHost, paths: HostPaths, service: LabService, log: string): Promise<void> {
  const setup = service.setup!;
  const dir = onHost(paths, setup.dir);
  if (await pathExists(join(dir, SET_UP_MARK))) return;
  for (const entry of await readdir(dir).catch(() => [] as string[])) await rm(join(dir, entry), { recursive: true, force: true });
  const [program, ...prefix] = enterHost(paths);
  const result = await run(program!, [...prefix, ...setup.run], { env: DAEMON_ENV, extendEnv: false, reject: false, timeout: 60_000 });
  await writeFile(log, `${result.stdout}${result.stderr}`, { flag: 'a' });
  if (result.exitCode !== 0) {
    throw new MagratheaError(`lab host ${host.name}: setting ${service.name} up failed (${result.command} exited with ${result.exitCode}): ${tail(result.stderr || result.stdout)} (log: ${log})`, 'lab-start-failed');
  }
  await writeFile(join(dir, SET_UP_MARK), `${result.command}\n`);
}

/**
 * Stops every process of a host, by PID, and drops its namespaces (its
 * mounts go with them). A process of the host is one in its persisted
 * namespace, or one that sees the host's /etc layer: that finds them all,
 * also after a crash lost the lab's records, and also those in a namespace
 * nested inside the host's (a deploy's private check). Returns the PIDs stopped.
 */
export async function haltHost(paths: HostPaths): Promise<number[]> {
  const persisted = await hostNamespaceInode(paths);
  const own = await namespaceOf(process.pid);
  // A daemon may fork once more between the scan and its signal (a worker, an SSH session): scan again until none is left.
  const stopped: number[] = [];
  for (let round = 0; round < 5; round++) {
    const pids: number[] = [];
    for (const pid of await listProcesses()) {
      const inode = await namespaceOf(pid);
      if (inode === undefined || inode === own) continue;
      if (inode === persisted || (await seesHostLayers(pid, paths))) pids.push(pid);
    }
    if (pids.length === 0) break;
    await stopProcesses(pids);
    stopped.push(...pids);
  }
  const left = [];
  for (const pid of stopped) if (await isAlive(pid)) left.push(pid);
  if (left.length > 0) throw new MagratheaError(`lab: processes ${left.join(', ')} of ${paths.dir} survived SIGKILL`, 'lab-stop-failed');
  await releaseHostNamespace(paths);
  return stopped;
}

/** Whether the process's mounts include this host's /etc overlay. */
async function seesHostLayers(pid: number, paths: HostPaths): Promise<boolean> {
  const mountinfo = await readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '');
  return mountinfo.includes(`upperdir=${onHost(paths, '/etc')},`);
}
