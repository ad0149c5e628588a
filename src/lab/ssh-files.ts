import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { run } from '../adapters/exec.js';
import { pathExists } from '../lib/paths.js';
import type { LabPaths } from './paths.js';
import { LAB_PORTS, type LabPlan } from './plan.js';

/** Creates an ed25519 key pair at `path` (and `path.pub`) unless one is there: hosts keep trusting it across `up`s. */
export async function ensureKey(path: string, comment: string): Promise<string> {
  if (!(await pathExists(path))) {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  }
  return (await readFile(`${path}.pub`, 'utf8')).trim();
}

/** known_hosts for the lab: each host by name and address, so `ssh -F` checks host keys strictly. */
export function renderKnownHosts(plan: LabPlan, hostKeys: ReadonlyMap<string, string>): string {
  return plan.hosts.map((h) => `${h.name},${h.address} ${hostKeys.get(h.name)!.split(' ').slice(0, 2).join(' ')}\n`).join('');
}

/**
 * An ssh_config for `ssh -F <lab>/ssh/config a-web-1 ...`: every host by
 * name, root, the lab's key, strict host keys, no agent or password
 * prompts, so scripts and tests never hang on a question.
 */
export function renderSshConfig(lab: LabPaths, plan: LabPlan): string {
  const hosts = plan.hosts.map((h) => `Host ${h.name} ${h.address}\n    HostName ${h.address}\n`).join('');
  return [
    '# Written by `magrathea lab up`: ssh -F <this file> <host> [command]',
    hosts,
    'Host *',
    '    User root',
    `    Port ${LAB_PORTS.ssh}`,
    `    IdentityFile ${lab.hostsKey}`,
    '    IdentitiesOnly yes',
    `    UserKnownHostsFile ${lab.knownHosts}`,
    '    GlobalKnownHostsFile /dev/null',
    '    StrictHostKeyChecking yes',
    '    CheckHostIP no',
    '    BatchMode yes',
    '    ForwardAgent no',
    '    LogLevel ERROR',
    '    ConnectTimeout 5',
    '',
  ].join('\n');
}

export async function writeSshClientFiles(lab: LabPaths, plan: LabPlan, hostKeys: ReadonlyMap<string, string>): Promise<void> {
  await mkdir(lab.ssh, { recursive: true, mode: 0o700 });
  await writeFile(lab.knownHosts, renderKnownHosts(plan, hostKeys));
  await writeFile(lab.sshConfig, renderSshConfig(lab, plan));
}
