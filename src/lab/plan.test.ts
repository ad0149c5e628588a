import { describe, expect, test } from '@jest/globals';
import { validateGatewayConfig } from '../core/config/validate.js';
import { LAB_COMMANDS, renderLabConfig } from './gateway-config.js';
import { renderSshdConfig } from './host-files.js';
import { labPaths } from './paths.js';
import { planLab } from './plan.js';
import { renderSshConfig } from './ssh-files.js';

/** The lab's pure parts: names and addresses, and the configuration it writes. No root needed. */
describe('planLab', () => {
  test('web hosts take .1 to .M and the edge .M+1 of 127.0.<subnet + cluster index>', () => {
    const plan = planLab({ clusters: 2, webHosts: 3, subnet: 7 });
    expect(plan.hosts.map((h) => `${h.name} ${h.address} ${h.roles.join(',')}`)).toEqual([
      'a-web-1 127.0.7.1 web',
      'a-web-2 127.0.7.2 web',
      'a-web-3 127.0.7.3 web',
      'a-edge 127.0.7.4 cache,balancer,sessions,db',
      'b-web-1 127.0.8.1 web',
      'b-web-2 127.0.8.2 web',
      'b-web-3 127.0.8.3 web',
      'b-edge 127.0.8.4 cache,balancer,sessions,db',
    ]);
    expect(plan.clusters.map((c) => c.url)).toEqual(['http://127.0.7.4', 'http://127.0.8.4']);
  });

  test('refuses shapes that leave 127.0.x.y or make no sense', () => {
    expect(() => planLab({ clusters: 10, webHosts: 1, subnet: 1 })).toThrow('--clusters must be a whole number from 1 to 9');
    expect(() => planLab({ clusters: 1, webHosts: 0, subnet: 1 })).toThrow('--hosts must be a whole number from 1 to 20');
    expect(() => planLab({ clusters: 2, webHosts: 1, subnet: 254 })).toThrow('--subnet must be a whole number from 1 to 253');
  });
});

describe('the lab\'s gateway configuration', () => {
  const lab = labPaths('/var/lib/magrathea/lab');
  const plan = planLab({ clusters: 2, webHosts: 2, subnet: 1 });
  const userKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDgD7U39NBZkXAHvilSVZ93qhgDRh3UT3ellNYHWm8VM magrathea-lab-admin';

  test('passes the gateway\'s own validation and describes every host, with the lab\'s commands', () => {
    const result = validateGatewayConfig(lab.config, renderLabConfig(lab, plan, userKey));
    if ('problems' in result) throw new Error(JSON.stringify(result.problems));
    const { config } = result;
    expect(Object.values(config.clusters).flatMap((c) => c.hosts.map((h) => `${h.name}@${h.address}:${h.ssh.port}/${h.ssh.user}`))).toEqual(
      plan.hosts.map((h) => `${h.name}@${h.address}:22/root`),
    );
    expect(config.clusters['cluster-b']!.edge).toBe('http://127.0.2.3');
    expect(config.clusters['cluster-a']!.commands).toEqual(LAB_COMMANDS);
    expect(config.clusters['cluster-b']!.db).toEqual({ host: 'b-edge', address: '127.0.2.3', port: 3306 });
    expect(config.clusters['cluster-b']!.hosts.find((h) => h.name === 'b-edge')!.roles).toEqual(['cache', 'balancer', 'sessions', 'db']);
    expect(config.gateway.ssh).toEqual({ identity: lab.hostsKey, knownHosts: lab.knownHosts, masterIdleSeconds: 60 });
    expect(config.users.admin!.keys).toEqual([userKey]);
  });

  test('sshd listens on the host\'s address only, by key only', () => {
    const text = renderSshdConfig(plan.hosts[0]!);
    expect(text).toContain('ListenAddress 127.0.1.1:22\n');
    expect(text).toContain('PasswordAuthentication no\n');
    expect(text).not.toMatch(/0\.0\.0\.0/);
  });

  test('the ssh_config names every host and checks host keys strictly', () => {
    const text = renderSshConfig(lab, plan);
    expect(text).toContain('Host b-edge 127.0.2.3\n    HostName 127.0.2.3\n');
    expect(text).toContain(`UserKnownHostsFile ${lab.knownHosts}`);
    expect(text).toContain('StrictHostKeyChecking yes');
  });
});
