import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadGatewayConfig } from '../config/load.js';
import type { ClusterCommands, GatewayConfig } from '../core/config/types.js';
import type { LabPaths } from './paths.js';
import { LAB_PORTS, LAB_STORAGE, type LabPlan } from './plan.js';

/**
 * How the lab's services are checked and reloaded. The checks and Apache's
 * reload are a real host's; only what a real host asks systemd for differs:
 * the lab has no systemd, so FPM and HAProxy masters get USR2 by pidfile,
 * as their own init scripts do. varnishadm finds the lab's varnishd through
 * the default working directory, which each edge host has its own of.
 */
export const LAB_COMMANDS: ClusterCommands = {
  apache: { check: ['apache2ctl', '-t'], reload: ['apache2ctl', 'graceful'] },
  fpm: {
    check: ['php-fpm{php}', '-n', '-t'],
    reload: ['start-stop-daemon', '--stop', '--signal', 'USR2', '--quiet', '--pidfile', '/run/php/php{php}-fpm.pid', '--exec', '/usr/sbin/php-fpm{php}'],
  },
  varnish: { check: ['varnishd', '-C', '-n', '{tmp}', '-f', '{file}'], admin: ['varnishadm'] },
  haproxy: {
    check: ['haproxy', '-c', '-f', '/etc/haproxy/haproxy.cfg', '-f', '{dir}'],
    reload: ['start-stop-daemon', '--stop', '--signal', 'USR2', '--quiet', '--pidfile', '/run/haproxy.pid', '--exec', '/usr/sbin/haproxy'],
  },
};

const HEADER = '# Written by `magrathea lab up`: the lab at';

/** Where a lab host's connections to another come from: every lab host shares the machine's loopback. */
export const LAB_EGRESS = '127.0.0.1';

/** The three files of the gateway configuration describing the lab, as text. Pure. */
export function renderLabConfig(lab: LabPaths, plan: LabPlan, userKey: string): Record<'gateway.yml' | 'clusters.yml' | 'users.yml', string> {
  const q = (s: string): string => JSON.stringify(s);
  const argv = (list: readonly string[]): string => `[${list.map(q).join(', ')}]`;
  const clusters = plan.clusters.flatMap((c) => [
    `${c.name}:`,
    `  edge: ${c.url}`,
    `  ssh: { user: root, port: ${LAB_PORTS.ssh} }`,
    `  ports: { web: ${LAB_PORTS.web}, cache: ${LAB_PORTS.cache}, balancer: ${LAB_PORTS.balancer}, db: ${LAB_PORTS.db} }`,
    '  hosts:',
    // The lab's hosts share the machine's loopback: a connection from one to another comes from 127.0.0.1.
    ...c.hosts.map((h) => `    ${h.name}: { address: ${h.address}, egress: ${LAB_EGRESS}, roles: [${h.roles.join(', ')}] }`),
    `  # ${lab.storage}/${c.name}, mounted on each web host.`,
    `  storage: ${LAB_STORAGE}`,
    '  commands:',
    `    apache: { check: ${argv(LAB_COMMANDS.apache.check)}, reload: ${argv(LAB_COMMANDS.apache.reload)} }`,
    `    fpm: { check: ${argv(LAB_COMMANDS.fpm.check)}, reload: ${argv(LAB_COMMANDS.fpm.reload)} }`,
    `    varnish: { check: ${argv(LAB_COMMANDS.varnish.check)}, admin: ${argv(LAB_COMMANDS.varnish.admin)} }`,
    `    haproxy: { check: ${argv(LAB_COMMANDS.haproxy.check)}, reload: ${argv(LAB_COMMANDS.haproxy.reload)} }`,
    '',
  ]);
  return {
    'gateway.yml': [
      `${HEADER} ${lab.dir}.`,
      `state_dir: ${lab.gatewayState}`,
      'listen:',
      '  ssh: 127.0.0.1:2222',
      '  http: 127.0.0.1:5000',
      '# The key the lab\'s hosts accept for root, and their host keys.',
      'ssh:',
      `  identity: ${lab.hostsKey}`,
      `  known_hosts: ${lab.knownHosts}`,
      '',
    ].join('\n'),
    'clusters.yml': [`${HEADER} ${lab.dir}.`, `# Each host also answers \`ssh -F ${lab.sshConfig} <host>\`.`, '', ...clusters].join('\n'),
    'users.yml': [`${HEADER} ${lab.dir}.`, `# The key is ${lab.userKey}.pub.`, 'admin:', '  role: admin', '  keys:', `    - ${q(userKey)}`, ''].join('\n'),
  };
}

/** Writes the configuration and reads it back through the gateway's own loader: the lab is only up if the gateway accepts it. */
export async function writeLabConfig(lab: LabPaths, plan: LabPlan, userKey: string): Promise<GatewayConfig> {
  await mkdir(lab.config, { recursive: true });
  for (const [name, text] of Object.entries(renderLabConfig(lab, plan, userKey))) await writeFile(join(lab.config, name), text);
  return loadGatewayConfig(lab.config);
}
