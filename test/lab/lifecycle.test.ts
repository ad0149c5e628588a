import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { stat, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { start } from '../../src/adapters/exec.js';
import { labDown } from '../../src/lab/down.js';
import { mountsUnder } from '../../src/lab/mounts.js';
import { hostPaths, labPaths } from '../../src/lab/paths.js';
import { isAlive, processesInNamespaces } from '../../src/lab/processes.js';
import type { LabStatus } from '../../src/lab/status.js';
import { runCli } from '../helpers/cli.js';
import { reserveSubnet } from '../helpers/free-subnet.js';
import { sshRun } from '../helpers/lab.js';
import { runLabDir, TEST_LABS } from '../helpers/test-labs.js';

/** A lab of its own (one cluster: a web host and an edge), taken through up, up again, a crash, down and purge. */
describe('lab up and down', () => {
  const dir = runLabDir('lifecycle');
  let subnet: number;
  type UpResult = LabStatus & { started: string[]; seconds: number };
  let lab: UpResult;
  const up = async (): Promise<UpResult> => {
    const result = await runCli(['lab', 'up', '--json', '--clusters', '1', '--hosts', '1', '--subnet', String(subnet), '--dir', dir]);
    if (result.status !== 0) throw new Error(result.stderr);
    return JSON.parse(result.stdout) as UpResult;
  };
  /** Every process running in the lab's host namespaces, found as `down` finds them. */
  const labProcesses = async (): Promise<number[]> => {
    const inodes = new Set<number>();
    for (const host of ['a-web-1', 'a-edge']) inodes.add((await stat(hostPaths(labPaths(dir), host).namespace)).ino);
    return processesInNamespaces(inodes);
  };

  beforeAll(async () => {
    subnet = await reserveSubnet(TEST_LABS, [201, 202, 203, 204, 205, 206, 207, 208, 209], 1, Number(process.env.MAGRATHEA_TEST_RUN));
  });

  afterAll(async () => {
    await labDown({ dir, purge: true });
  }, 60_000);

  test('names the address and port that is taken, and comes up once it is free', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen({ host: `127.0.${subnet}.2`, port: 80 }, resolve));
    try {
      const result = await runCli(['lab', 'up', '--clusters', '1', '--hosts', '1', '--subnet', String(subnet), '--dir', dir]);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`haproxy of lab host a-edge: 127.0.${subnet}.2:80 is already in use`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    lab = await up();
    expect(lab.up).toBe(true);
    expect(lab.started).toContain('a-edge');
    process.stdout.write(`lab up (1 x 1, after a failed start): ${lab.seconds.toFixed(1)} s\n`);
  }, 60_000);

  test('up again starts nothing', async () => {
    const again = await up();
    expect(again.started).toEqual([]);
    expect(again.hosts.flatMap((h) => h.services.map((s) => s.pid))).toEqual(lab.hosts.flatMap((h) => h.services.map((s) => s.pid)));
  }, 60_000);

  const mariadbPid = (status: LabStatus): number | undefined => status.hosts.find((h) => h.name === 'a-edge')!.services.find((s) => s.name === 'mariadb')!.pid;
  const databases = async (): Promise<string> => (await sshRun(lab, 'a-edge', ['mariadb', '--batch', '--skip-column-names', '-e', 'SHOW DATABASES LIKE "kept%"'])).stdout;

  test('a killed MariaDB comes back on up, with its databases: the data directory is made once', async () => {
    await sshRun(lab, 'a-edge', ['mariadb', '-e', 'CREATE DATABASE kept']);
    const killed = mariadbPid(lab)!;
    process.kill(killed, 'SIGKILL');
    for (let i = 0; i < 100 && (await isAlive(killed)); i++) await new Promise((r) => setTimeout(r, 20));
    expect((await runCli(['lab', 'status', '--dir', dir])).stdout).toMatch(/a-edge .*mariadb DOWN/);

    lab = await up();
    expect(lab.started).toEqual(['a-edge']);
    expect(lab.up).toBe(true);
    expect(mariadbPid(lab)).not.toBe(killed);
    expect(await databases()).toBe('kept\n');
  }, 60_000);

  test('down stops every process and unmounts everything of a crashed lab, and the hosts\' files stay for the next up', async () => {
    await sshRun(lab, 'a-web-1', ['sh', '-c', 'echo kept > /etc/magrathea-lab-kept']);
    const mariadb = mariadbPid(lab)!;
    const processes = await labProcesses();
    expect(processes).toContain(mariadb);
    expect(processes.length).toBeGreaterThan(5);

    // The crash: daemons killed without a word (Apache's workers are left orphaned), and the lab's records of its namespaces lost.
    const web = lab.hosts.find((h) => h.name === 'a-web-1')!;
    for (const s of web.services.filter((x) => x.name !== 'php-fpm8.2')) process.kill(s.pid!, 'SIGKILL');
    const state = JSON.parse(await readFile(labPaths(dir).state, 'utf8')) as { namespaces: object };
    await writeFile(labPaths(dir).state, JSON.stringify({ ...state, namespaces: {} }));
    const status = await runCli(['lab', 'status', '--dir', dir]);
    expect(status.stdout).toContain('NOT up');

    const down = await runCli(['lab', 'down', '--dir', dir]);
    expect(down).toMatchObject({ status: 0, stderr: '' });
    const alive = [];
    for (const pid of processes) if (await isAlive(pid)) alive.push(pid);
    expect(alive).toEqual([]);
    expect(await isAlive(mariadb)).toBe(false);
    expect(await mountsUnder(dir)).toEqual([]);

    lab = await up();
    expect(lab.up).toBe(true);
    expect((await sshRun(lab, 'a-web-1', ['cat', '/etc/magrathea-lab-kept'])).stdout).toBe('kept\n');
    expect(await databases()).toBe('kept\n');
  }, 60_000);

  test('down --purge removes the lab, with the Redis of a gateway killed without its cleanup; down where there is no lab says so', async () => {
    const processes = await labProcesses();
    expect(processes).toContain(mariadbPid(lab)!);
    // A worker on the lab's gateway config, SIGKILLed: its private redis-server stays behind.
    const worker = start('node', [resolve('dist/src/cli/main.js'), 'worker', '--no-accounting', '--config', lab.config]);
    let said = '';
    worker.stdout!.on('data', (d: Buffer) => (said += d.toString()));
    for (let i = 0; i < 200 && !said.includes('worker ready'); i++) await new Promise((r) => setTimeout(r, 50));
    worker.kill('SIGKILL');
    await worker;
    const redis = Number((await readFile(join(labPaths(dir).gatewayState, 'redis', 'redis.pid'), 'utf8')).trim());
    expect(await isAlive(redis)).toBe(true);
    expect(await runCli(['lab', 'down', '--purge', '--dir', dir])).toMatchObject({ status: 0, stderr: '' });
    for (const pid of processes) expect(await isAlive(pid)).toBe(false);
    expect(await isAlive(redis)).toBe(false);
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
    expect((await runCli(['lab', 'down', '--dir', dir])).stdout).toBe(`no lab at ${dir}: nothing to do\n`);
    expect(await runCli(['lab', 'status', '--dir', dir])).toMatchObject({ status: 1, stderr: expect.stringContaining(`no lab at ${dir}`) });
  }, 60_000);
});
