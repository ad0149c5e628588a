import { chmod, chown, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../adapters/exec.js';
import { shellQuote } from '../adapters/ssh.js';
import { EMPTIED_AT_BOOT, FRESH_PATHS, OVERLAID_PATHS, type HostBind } from './host-view.js';
import { isMountPoint } from './mounts.js';
import type { HostPaths, LabPaths } from './paths.js';

/**
 * Host namespaces are persisted as bind mounts of nsfs files, which the
 * kernel only allows on a mount that does not propagate: the directory
 * holding them is bound onto itself and made private.
 */
export async function ensureNamespaceDir(lab: LabPaths): Promise<void> {
  await mkdir(lab.namespaces, { recursive: true });
  if (await isMountPoint(lab.namespaces)) return;
  await run('mount', ['--bind', lab.namespaces, lab.namespaces]);
  await run('mount', ['--make-private', lab.namespaces]);
}

/** The argv prefix that runs a program inside the host: its mounts and its host name. */
export function enterHost(host: HostPaths): string[] {
  return ['nsenter', `--mount=${host.namespace}`, `--uts=${host.utsNamespace}`, '--'];
}

/**
 * Creates the host's mount and UTS namespaces, persisted at
 * `host.namespace` and `host.utsNamespace` (no process has to hold them),
 * names the host, and mounts the host's own view of the production paths.
 * Returns the mount namespace's inode, which identifies the host's
 * processes later. The host's /run and /tmp start empty, as after a boot;
 * its other fresh paths keep what the host wrote there.
 * Each of `binds` is mounted nosuid,nodev, as Puppet mounts a cluster's
 * shared filesystem on a real web host.
 */
export async function createHostNamespace(host: HostPaths, name: string, binds: readonly HostBind[] = []): Promise<number> {
  for (const path of EMPTIED_AT_BOOT) await rm(join(host.fs, path), { recursive: true, force: true });
  await writeFile(host.namespace, '', { flag: 'a' });
  await writeFile(host.utsNamespace, '', { flag: 'a' });
  await run('unshare', [`--mount=${host.namespace}`, `--uts=${host.utsNamespace}`, '--propagation', 'private', 'hostname', name]);
  const inode = (await stat(host.namespace)).ino;
  // Every mount of the host in one program run inside it (starting programs is what costs here), in this order.
  const mounts: string[][] = [];

  for (const path of OVERLAID_PATHS) {
    const upper = join(host.fs, path);
    const work = join(host.work, path.slice(1).replaceAll('/', '-'));
    await mkdir(path, { recursive: true });
    await mkdir(upper, { recursive: true });
    await mkdir(work, { recursive: true });
    await copyOwnerAndMode(path, upper);
    // The apps' tree is mounted as a real host should mount it: a setuid file or a device node there does nothing.
    const flags = path === '/var/www' ? 'nosuid,nodev,' : '';
    mounts.push(['mount', '-t', 'overlay', 'magrathea-lab', '-o', `${flags}lowerdir=${path},upperdir=${upper},workdir=${work}`, path]);
  }
  // Before the fresh /tmp hides a lab directory under /tmp.
  for (const bind of binds) {
    mounts.push(['mkdir', '-p', bind.target]);
    mounts.push(['mount', '--bind', '-o', 'nosuid,nodev', bind.source, bind.target]);
  }
  for (const { path, mode } of FRESH_PATHS) {
    const dir = join(host.fs, path);
    await mkdir(dir, { recursive: true });
    await chmod(dir, mode);
    // The mount point, when the machine has none (no database server installed: /var/lib/mysql); left empty.
    await mkdir(path, { recursive: true });
    mounts.push(['mount', '--bind', dir, path]);
  }
  const [program, ...prefix] = enterHost(host);
  await run(program!, [...prefix, 'sh', '-ec', mounts.map(shellQuote).join('\n')]);
  return inode;
}

/** The merged directory takes the owner and mode of the upper one: make them the machine's. */
async function copyOwnerAndMode(from: string, to: string): Promise<void> {
  const s = await stat(from);
  await chown(to, s.uid, s.gid);
  await chmod(to, s.mode & 0o7777);
}

/**
 * Drops the bind mounts that keep the host's namespaces alive. Its mounts
 * go once no process runs in them any more: stop the processes first.
 */
export async function releaseHostNamespace(host: HostPaths): Promise<void> {
  for (const file of [host.namespace, host.utsNamespace]) if (await isMountPoint(file)) await run('umount', [file]);
}

/** The inode of the host's namespace while it is persisted, else undefined. */
export async function hostNamespaceInode(host: HostPaths): Promise<number | undefined> {
  if (!(await isMountPoint(host.namespace))) return undefined;
  return (await stat(host.namespace)).ino;
}
