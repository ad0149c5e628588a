import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { loadGatewayConfig } from '../../src/config/load.js';
import type { ClusterConfig, GatewayConfig } from '../../src/core/config/types.js';
import type { InstanceConfig } from '../../src/core/manifest/types.js';
import { LAB_COMMANDS } from '../../src/lab/gateway-config.js';
import type { LabStatus } from '../../src/lab/status.js';
import { runCli } from '../helpers/cli.js';
import { curl } from '../helpers/curl.js';
import { sshRun, testLabShape, useLab } from '../helpers/lab.js';
import { applyCluster, instanceFiles, placeRelease, resolveTestInstance, waitForEdge } from '../helpers/hand-deploy.js';

let lab: LabStatus;
let config: GatewayConfig;

beforeAll(async () => {
  lab = await useLab();
  config = await loadGatewayConfig(lab.config);
}, 120_000);

describe('a 2 x 2 lab', () => {
  test('has two clusters of two web hosts and an edge, on 127.0.x.y, every service answering', () => {
    const s = testLabShape().subnet;
    expect(lab.up).toBe(true);
    expect(lab.hosts.map((h) => [h.name, h.cluster, h.address, h.roles.join(',')])).toEqual([
      ['a-web-1', 'cluster-a', `127.0.${s}.1`, 'web'],
      ['a-web-2', 'cluster-a', `127.0.${s}.2`, 'web'],
      ['a-edge', 'cluster-a', `127.0.${s}.3`, 'cache,balancer,sessions,db'],
      ['b-web-1', 'cluster-b', `127.0.${s + 1}.1`, 'web'],
      ['b-web-2', 'cluster-b', `127.0.${s + 1}.2`, 'web'],
      ['b-edge', 'cluster-b', `127.0.${s + 1}.3`, 'cache,balancer,sessions,db'],
    ]);
    expect(lab.hosts.find((h) => h.name === 'a-web-1')!.services.map((x) => x.name)).toEqual(['sshd', 'php-fpm8.2', 'apache']);
    expect(lab.hosts.find((h) => h.name === 'a-edge')!.services.map((x) => x.name)).toEqual(['sshd', 'varnish', 'varnishncsa', 'redis-sessions', 'mariadb', 'haproxy']);
    expect(lab.edges).toEqual([
      { cluster: 'cluster-a', host: 'a-edge', url: `http://127.0.${s}.3` },
      { cluster: 'cluster-b', host: 'b-edge', url: `http://127.0.${s + 1}.3` },
    ]);
  });

  test('writes a gateway configuration the gateway loads, with the lab\'s commands', () => {
    expect(Object.keys(config.clusters)).toEqual(['cluster-a', 'cluster-b']);
    const a = config.clusters['cluster-a']!;
    expect(a.hosts.map((h) => [h.name, h.address, h.roles])).toEqual(lab.hosts.filter((h) => h.cluster === 'cluster-a').map((h) => [h.name, h.address, h.roles]));
    expect(a.edge).toBe(lab.edges[0]!.url);
    expect(a.commands).toEqual(LAB_COMMANDS);
    expect(a.db).toEqual({ host: 'a-edge', address: lab.edges[0]!.url.replace('http://', ''), port: 3306 });
    expect(config.clusters['cluster-b']!.db).toMatchObject({ host: 'b-edge', port: 3306 });
    expect(Object.keys(config.users)).toEqual(['admin']);
    expect(config.gateway.ssh).toEqual({ identity: lab.ssh.identity, knownHosts: lab.ssh.knownHosts, masterIdleSeconds: 60 });
  });

  test('ssh to each host runs a command that sees the host\'s own file where the others have theirs', async () => {
    const path = '/etc/magrathea-lab-test';
    await Promise.all(lab.hosts.map((h) => sshRun(lab, h.name, ['sh', '-c', 'echo "$1" > "$2"', 'sh', `I am ${h.name}`, path])));
    try {
      for (const h of lab.hosts) {
        const { stdout } = await sshRun(lab, h.name, ['sh', '-c', 'hostname; cat "$1"; ls -A ~', 'sh', path]);
        expect(stdout).toBe(`${h.name}\nI am ${h.name}\n.ssh\n`);
      }
    } finally {
      await Promise.all(lab.hosts.map((h) => sshRun(lab, h.name, ['rm', '-f', path])));
    }
  });

  test('an ssh command to a host costs a fraction of a second', async () => {
    await sshRun(lab, 'a-web-1', ['true']);
    const began = performance.now();
    for (let i = 0; i < 5; i++) await sshRun(lab, 'a-web-1', ['true']);
    const ms = (performance.now() - began) / 5;
    process.stdout.write(`lab ssh round trip: ${ms.toFixed(0)} ms\n`);
    expect(ms).toBeLessThan(1000);
  });

  test('lab status --json gives the configuration, the hosts and the edges', async () => {
    const result = await runCli(['lab', 'status', '--json', '--dir', lab.dir]);
    expect(result).toMatchObject({ status: 0, stderr: '' });
    const status = JSON.parse(result.stdout) as LabStatus;
    expect(status.config).toBe(`${lab.dir}/config`);
    expect(status.hosts.map(({ name, cluster, address, roles }) => ({ name, cluster, address, roles }))).toEqual(
      lab.hosts.map(({ name, cluster, address, roles }) => ({ name, cluster, address, roles })),
    );
    expect(status.edges.map(({ cluster, url }) => ({ cluster, url }))).toEqual(lab.edges.map(({ cluster, url }) => ({ cluster, url })));
  });

  test('lab up again starts nothing and leaves every daemon as it was', async () => {
    const before = lab.hosts.flatMap((h) => h.services.map((s) => s.pid));
    const result = await runCli(['lab', 'up', '--json', '--dir', lab.dir, '--subnet', String(testLabShape().subnet)]);
    expect(result.status).toBe(0);
    const again = JSON.parse(result.stdout) as LabStatus & { started: string[] };
    expect(again.started).toEqual([]);
    expect(again.hosts.flatMap((h) => h.services.map((s) => s.pid))).toEqual(before);
  });

  test('the other cluster\'s edge answers 404 for a Host no app serves', async () => {
    const response = await curl(lab.edges[1]!.url, 'nothing-here.example');
    expect(response.status).toBe(404);
  });
});

describe('the cluster\'s database server, on its edge', () => {
  const edge = (): string => lab.hosts.find((h) => h.name === 'a-edge')!.address;
  const sql = (host: string, argv: string[], statement: string) => sshRun(lab, host, ['mariadb', '--batch', '--skip-column-names', ...argv, '-e', statement], { reject: false });

  test('answers root on its host through the socket, as the gateway will run it over SSH', async () => {
    expect(lab.hosts.find((h) => h.name === 'a-edge')!.services.find((x) => x.name === 'mariadb')).toMatchObject({ up: true, endpoint: `${edge()}:3306` });
    const result = await sql('a-edge', [], 'SELECT VERSION(), CURRENT_USER()');
    expect(result).toMatchObject({ exitCode: 0, stderr: '' });
    expect(result.stdout).toMatch(/^10\.[0-9.]+-MariaDB\S*\troot@localhost\n$/);
    // Each cluster has its own.
    expect((await sql('b-edge', [], 'SELECT @@bind_address, @@port')).stdout).toBe(`${lab.hosts.find((h) => h.name === 'b-edge')!.address}\t3306\n`);
  });

  test('refuses root over TCP, from a web host and from its own host, with or without an empty password', async () => {
    for (const [host, password] of [['a-web-1', []], ['a-web-2', ['--password=']], ['a-edge', ['--password=']]] as const) {
      const result = await sql(host, ['--protocol=tcp', '-h', edge(), '-P', '3306', '-u', 'root', ...password], 'SELECT 1');
      expect(result.exitCode).not.toBe(0);
      expect(result.stdout).toBe('');
      // The server answered (the port is reached) and refused the account: no root from anywhere but the socket.
      expect(result.stderr).toMatch(/1130 - Host '[0-9.]+' is not allowed to connect|ERROR 1045 .*Access denied for user 'root'/);
    }
  });

  test('refuses a user of its host that is not root, through the socket, as root', async () => {
    const result = await sshRun(lab, 'a-edge', ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', 'mariadb', '-u', 'root', '-e', 'SELECT 1'], { reject: false });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/ERROR 1698 .*Access denied for user 'root'@'localhost'/);
  });
});

describe('through the edge: HAProxy → Varnish → Apache → PHP-FPM', () => {
  const manifest = [
    'stack: { php: "8.2", docroot: public }',
    'domains: [labcheck.lab.test]',
    'health: { path: /health.php, status: 200 }',
    'environments:',
    '  production: { branch: master, clusters: [cluster-a] }',
    '',
  ].join('\n');
  const page = '<?php\nheader("Cache-Control: no-store");\nprintf("served by %s with PHP %s\\n", gethostname(), PHP_VERSION);\n';
  let cluster: ClusterConfig;
  let instance: InstanceConfig;

  beforeAll(async () => {
    cluster = config.clusters['cluster-a']!;
    instance = resolveTestInstance(manifest, 'labcheck', 'production', 'cluster-a');
    await placeRelease(lab, cluster, instance, 'r1', { 'public/index.php': page, 'public/health.php': '<?php echo "ok\\n";\n' });
    await applyCluster(lab, cluster, [instance]);
    await waitForEdge(lab.edges[0]!.url, 'labcheck.lab.test', 200);
  }, 120_000);

  afterAll(async () => {
    // Leave the shared lab as it was found: an empty cluster.
    if (!cluster || !instance) return;
    await applyCluster(lab, cluster, [], instanceFiles(cluster, instance));
    await waitForEdge(lab.edges[0]!.url, 'labcheck.lab.test', 404);
  }, 120_000);

  test('a PHP page on the web hosts is served through the cluster\'s edge, from each web host in turn', async () => {
    const servedBy = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const response = await curl(lab.edges[0]!.url, 'labcheck.lab.test');
      expect(response.status).toBe(200);
      expect(response.body).toMatch(/^served by a-web-[12] with PHP 8\.2\./);
      expect(response.headers['via']).toMatch(/varnish/i);
      servedBy.add(response.body.split(' ')[2]!);
    }
    expect([...servedBy].sort()).toEqual(['a-web-1', 'a-web-2']);
  });

  test('an unknown Host gets a clear 404 from the edge', async () => {
    const response = await curl(lab.edges[0]!.url, 'unknown.lab.test');
    expect(response.status).toBe(404);
    expect(response.body).toMatch(/no app serves this host/i);
  });
});
