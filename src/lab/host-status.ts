import { readFile } from 'node:fs/promises';
import { pathExists } from '../lib/paths.js';
import { onHost, type HostPaths } from './paths.js';
import type { LabHost } from './plan.js';
import { probeConnection, probePort } from './ports.js';
import { isAlive, namespaceOf } from './processes.js';
import type { LabService } from './services.js';

export interface ServiceStatus {
  name: string;
  /** The daemon's (master) PID, from its pidfile, while that process lives. */
  pid?: number;
  /** Where it answers: `127.0.1.1:80`, or a unix socket path on the host. */
  endpoint: string;
  /** It runs and accepts connections. */
  up: boolean;
}

/** Reads a daemon's pidfile from the host's layer; the PID if that process lives in the host's namespace. */
export async function readServicePid(paths: HostPaths, service: LabService, inode: number | undefined): Promise<number | undefined> {
  const text = await readFile(onHost(paths, service.pidFile), 'utf8').catch(() => '');
  const pid = Number(text.trim().split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 1 || !(await isAlive(pid))) return undefined;
  // A stale pidfile may name a PID reused by some unrelated process.
  if (inode !== undefined && (await namespaceOf(pid)) !== inode) return undefined;
  return pid;
}

export async function serviceStatus(host: LabHost, paths: HostPaths, service: LabService, inode: number | undefined): Promise<ServiceStatus> {
  const pid = inode === undefined ? undefined : await readServicePid(paths, service, inode);
  const answers = pid !== undefined && (await serviceAnswers(host, paths, service));
  return { name: service.name, ...(pid !== undefined ? { pid } : {}), endpoint: serviceEndpoint(host, service), up: answers };
}

/** Where a service answers, for people: `127.0.1.1:80`, a socket or a file of the host. */
export function serviceEndpoint(host: LabHost, service: LabService): string {
  const ready = service.ready;
  return 'port' in ready ? `${host.address}:${ready.port}` : 'socket' in ready ? ready.socket : ready.file;
}

/** Whether the service answers now: its port or socket accepts a connection, or its file exists. */
export async function serviceAnswers(host: LabHost, paths: HostPaths, service: LabService, timeoutMs = 1000): Promise<boolean> {
  const ready = service.ready;
  if ('port' in ready) return probePort(host.address, ready.port, timeoutMs);
  if ('socket' in ready) return probeSocket(onHost(paths, ready.socket), timeoutMs);
  return pathExists(onHost(paths, ready.file));
}

/** A unix socket of the host, reached through its layer from outside: the same inode, so the same listener. */
export function probeSocket(path: string, timeoutMs = 1000): Promise<boolean> {
  return probeConnection({ path }, timeoutMs);
}
