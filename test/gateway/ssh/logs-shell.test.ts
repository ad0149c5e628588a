import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, start } from '../../../src/adapters/exec.js';
import { labDown } from '../../../src/lab/down.js';
import type { LabStatus } from '../../../src/lab/status.js';
import { curl } from '../../helpers/curl.js';
import { freePort } from '../../helpers/free-port.js';
import { makeUserKeys, startGateway, type TestGateway } from '../../helpers/gateway.js';
import { Terminal } from '../../helpers/terminal.js';
import { waitFor } from '../../helpers/wait.js';
import { sshRun, useOwnLab } from '../../helpers/lab.js';

/**
 * `ssh magrathea logs` and `ssh magrathea shell` with the real OpenSSH
 * client (under a real terminal: tmux) against `magrathea serve` on a lab
 * of their own (2 clusters x 2 web hosts), the example app deployed
 * through the gateway first.
 */
const APP = 'logshell';
const DOMAIN = { 'cluster-a': `${APP}.example.com`, 'cluster-b': `${APP}.example.net` } as const;
const LOGS = `/var/log/magrathea/${APP}/production/`;
let lab: LabStatus;
let work: string;
let port: number;
let server: TestGateway | undefined;
const keys: Record<string, string> = {};
const figures: string[] = [];

/** The OpenSSH client's argv up to the destination, as `who`. */
function sshArgv(who: string, ...options: string[]): string[] {
  return ['ssh', ...options, '-p', String(port), '-i', keys[who]!, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${join(work, 'known_hosts')}`, '-o', 'LogLevel=ERROR', 'git@127.0.0.1'];
}

function ssh(who: string, command: string[], options: { tty?: boolean; input?: string } = {}) {
  const [file, ...args] = sshArgv(who, ...(options.tty ? ['-tt'] : []));
  return run(file!, [...args, ...command], { reject: false, timeout: 60_000, input: options.input ?? '' });
}

const webHosts = () => lab.hosts.filter((h) => h.roles.includes('web')).map((h) => h.name);
const edge = (cluster: string) => lab.edges.find((e) => e.cluster === cluster)!.url;


/** The `tail` processes of the app's logs that `ps` shows on each web host, by PID (lab hosts share one PID space). */
async function remoteTails(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const host of webHosts()) {
    const ps = await sshRun(lab, host, ['ps', '-eo', 'pid=,args=']);
    for (const line of ps.stdout.split('\n')) {
      const [pid, ...args] = line.trim().split(/\s+/);
      if (args[0] === 'tail' && line.includes(LOGS)) found.set(pid!, `${host}: ${args.join(' ')}`);
    }
  }
  return found;
}

/** The gateway's own TCP connections to hosts' sshd, and its `ssh` children (there should be none of either after a session). */
async function gatewaySide(): Promise<{ connections: number; sshChildren: string[] }> {
  const pid = server!.pid;
  const ss = await run('ss', ['-tnpH', 'state', 'established', '( dport = :22 )']);
  const children = await run('ps', ['--ppid', String(pid), '-o', 'args='], { reject: false });
  return {
    connections: ss.stdout.split('\n').filter((l) => l.includes(`pid=${pid},`)).length,
    sshChildren: children.stdout.split('\n').filter((l) => /^ssh\b/.test(l)),
  };
}

/** A real terminal: a tmux server of this suite's own (its socket in the suite's directory), stopped by PID. */
beforeAll(async () => {
  // A short name: the gateway's SSH control sockets live under the lab's directory, and a socket path has ~100 bytes.
  lab = await useOwnLab('lsh', { clusters: 2, webHosts: 2 }, [161, 163, 165, 167, 169, 171, 173, 175, 177]);
  work = await mkdtemp(join(tmpdir(), 'magrathea-logs-shell-'));
  const config = join(work, 'config');
  await cp(lab.config, config, { recursive: true });
  // carol may touch the app but not read its logs nor open a shell; dave may do both, on other apps.
  const users = [['carol', `["${APP}"]`, '[deploy]'], ['dave', '["shop-*"]', '[logs, shell]']] as const;
  const publicKeys = await makeUserKeys(lab, work, keys, users.map(([who]) => who));
  let extra = '';
  for (const [who, apps, verbs] of users) extra += `${who}:\n  role: member\n  keys: ["${publicKeys[who]}"]\n  apps: ${apps}\n  verbs: ${verbs}\n`;
  await writeFile(join(config, 'users.yml'), `${await readFile(join(lab.config, 'users.yml'), 'utf8')}${extra}`);
  port = await freePort();
  server = await startGateway(['--config', config, '--listen', `127.0.0.1:${port}`, '--http', '127.0.0.1:0']);
  expect((await ssh('admin', ['apps:create', APP])).exitCode).toBe(0);

  const repo = join(work, 'app');
  await cp('examples/hello-php', repo, { recursive: true });
  const git = (...args: string[]) => run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { env: { GIT_SSH_COMMAND: sshArgv('admin').slice(0, -1).join(' ') }, timeout: 180_000 });
  await run('git', ['init', '-q', '-b', 'master', repo]);
  await git('add', '-A');
  await git('commit', '-q', '-m', 'first');
  await git('push', '-q', `ssh://git@127.0.0.1:${port}/${APP}.git`, 'master');
}, 240_000);

// Everything started here is stopped by PID, failed or not: the server, then the lab.
afterAll(async () => {
  await server?.stop();
  if (lab) await labDown({ dir: lab.dir, purge: true });
  if (work) await rm(work, { recursive: true, force: true });
  if (figures.length > 0) process.stdout.write(`logs/shell figures:\n  ${figures.join('\n  ')}\n`);
}, 60_000);

describe('ssh magrathea logs', () => {
  it('prints the last lines of every web host of every cluster, each prefixed cluster/host', async () => {
    const markers = { 'cluster-a': `/admin/last-a-${Date.now()}`, 'cluster-b': `/admin/last-b-${Date.now()}` };
    for (const cluster of ['cluster-a', 'cluster-b'] as const) expect((await curl(`${edge(cluster)}${markers[cluster]}`, DOMAIN[cluster])).status).toBe(404);

    const started = Date.now();
    const [file, ...args] = sshArgv('admin');
    const first = start(file!, [...args, 'logs', APP, '-n', '100'], { stdio: 'pipe' });
    first.stdout!.once('data', () => figures.push(`logs -n 100, 4 hosts x 3 files: first line ${Date.now() - started} ms after ssh started`));
    await first;
    figures.push(`logs -n 100, 4 hosts x 3 files: ${Date.now() - started} ms end to end`);
    const all = await ssh('admin', ['logs', APP, '-n', '100']);
    expect(all).toMatchObject({ exitCode: 0, stderr: '' });
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines.every((l) => /^cluster-[ab]\/[ab]-web-[12] /.test(l))).toBe(true);
    expect(new Set(lines.map((l) => l.split(' ')[0]))).toEqual(new Set(['cluster-a/a-web-1', 'cluster-a/a-web-2', 'cluster-b/b-web-1', 'cluster-b/b-web-2']));
    expect(all.stdout).toMatch(new RegExp(`^cluster-a/a-web-[12] .*"GET ${markers['cluster-a']} HTTP`, 'm'));
    expect(all.stdout).toMatch(new RegExp(`^cluster-b/b-web-[12] .*"GET ${markers['cluster-b']} HTTP`, 'm'));

    // Every web host has access lines (the deploy checked each): -n 1 is one line of each host of the cluster.
    for (const args of [[`${APP}@cluster-b`], [APP, '--cluster', 'cluster-b']]) {
      const b = await ssh('admin', ['logs', ...args, '-n', '1', '--type', 'access']);
      expect(b.exitCode).toBe(0);
      expect(b.stdout.trimEnd().split('\n').map((l) => l.split(' ')[0]).sort()).toEqual(['cluster-b/b-web-1', 'cluster-b/b-web-2']);
    }

    const errors = await ssh('admin', ['logs', APP, '--type', 'error']);
    expect(errors.exitCode).toBe(0);
    expect(errors.stdout).not.toContain(markers['cluster-a']);

    expect((await ssh('admin', ['logs', APP, '-n', 'x'])).exitCode).toBe(2);
    expect((await ssh('admin', ['logs', APP, '--cluster', 'nowhere'])).exitCode).toBe(2);
  });

  it('-f shows a request made while it follows; after the client disconnects no tail is left on any host, nor anything on the gateway', async () => {
    const [file, ...args] = sshArgv('admin');
    const follow = start(file!, [...args, 'logs', APP, '-f', '-n', '0']);
    let out = '';
    follow.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    follow.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      // 4 web hosts x (access, error, php-error).
      const tails = await waitFor('the remote tails', async () => ((await remoteTails()).size === 12 ? true : undefined));
      expect(tails).toBe(true);
      const during = await gatewaySide();
      expect(during).toEqual({ connections: 4, sshChildren: [] });

      const marker = `/admin/follow-${Date.now()}`;
      const sent = Date.now();
      expect((await curl(`${edge('cluster-a')}${marker}`, DOMAIN['cluster-a'])).status).toBe(404);
      await waitFor('the request in the followed logs', async () => out.includes(marker), 10_000);
      figures.push(`logs -f: a request through the edge shows ${Date.now() - sent} ms after it was sent`);
      expect(out).toMatch(new RegExp(`^cluster-a/a-web-[12] .*"GET ${marker} HTTP/1\\.1" 404 `, 'm'));
    } finally {
      follow.kill('SIGTERM');
      await follow.catch(() => undefined);
    }
    const gone = Date.now();
    await waitFor('no tail left on the hosts', async () => (await remoteTails()).size === 0, 10_000);
    figures.push(`logs -f: remote tails gone ${Date.now() - gone} ms after the client was killed`);
    expect(await gatewaySide()).toEqual({ connections: 0, sshChildren: [] });
  });
});

describe('logs over the HTTP API', () => {
  it('?follow=1 streams JSON lines until the client goes away; then no tail is left on any host', async () => {
    const created = await ssh('admin', ['tokens:create', '--json']);
    const token = (JSON.parse(created.stdout) as { token: string }).token;
    const api = server!.api!;
    const client = new AbortController();
    const response = await fetch(`${api}/v1/apps/${APP}/logs?follow=1&n=0`, { headers: { Authorization: `Bearer ${token}` }, signal: client.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    let out = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of response.body!) out += decoder.decode(chunk as Uint8Array, { stream: true });
    })().catch(() => undefined);
    try {
      await waitFor('the remote tails', async () => ((await remoteTails()).size === 12 ? true : undefined));
      const marker = `/admin/api-follow-${Date.now()}`;
      expect((await curl(`${edge('cluster-b')}${marker}`, DOMAIN['cluster-b'])).status).toBe(404);
      await waitFor('the request in the streamed logs', async () => out.includes(marker), 10_000);
      const line = out.split('\n').find((l) => l.includes(marker))!;
      expect((JSON.parse(line) as { stdout: string }).stdout).toMatch(new RegExp(`^cluster-b/b-web-[12] .*"GET ${marker} HTTP/1\\.1" 404 `));
    } finally {
      client.abort();
      await reading;
    }
    await waitFor('no tail left on the hosts', async () => (await remoteTails()).size === 0, 10_000);
    expect(await gatewaySide()).toEqual({ connections: 0, sshChildren: [] });
    // Without a token, nothing.
    expect((await fetch(`${api}/v1/apps/${APP}/logs`)).status).toBe(401);
  });
});

describe('ssh magrathea logs under a terminal', () => {
  let terminal: Terminal | undefined;
  afterAll(() => terminal?.close());

  it('-f with ssh -t: each line starts at the left margin (CR LF for the raw terminal), and Ctrl-C ends it', async () => {
    terminal = new Terminal(work);
    await terminal.open(sshArgv('admin', '-t').concat('logs', APP, '-f', '-n', '0', '--cluster', 'cluster-b', '--type', 'access'), 220, 30);
    await waitFor('the remote tails', async () => ((await remoteTails()).size === 2 ? true : undefined));
    const markers = [1, 2].map((n) => `/admin/tty-${n}-${Date.now()}`);
    for (const marker of markers) {
      await curl(`${edge('cluster-b')}${marker}`, DOMAIN['cluster-b']);
      await waitFor('the request on the terminal', async () => (await terminal!.screen()).includes(marker), 10_000);
    }
    // Without the carriage return, the second line would start where the first ended.
    for (const marker of markers) expect(await terminal.screen()).toMatch(new RegExp(`^cluster-b/b-web-[12] .*"GET ${marker} `, 'm'));
    await terminal.key('C-c');
    expect(await terminal.exitStatus()).toBe(0);
    terminal.close();
    await waitFor('no tail left on the hosts', async () => (await remoteTails()).size === 0, 10_000);
  });
});

describe('ssh magrathea shell', () => {
  let terminal: Terminal | undefined;
  afterAll(() => terminal?.close());

  it('under a real terminal: the instance user in its release, with its env; follows a resize; returns the exit status', async () => {
    terminal = new Terminal(work);
    const started = Date.now();
    await terminal.open(sshArgv('admin', '-t').concat('shell', `${APP}@cluster-a`), 100, 30);
    const where = await terminal.ask('echo "@pwd=$(pwd)@user=$(id -un)@"', /@pwd=(\/\S*)@user=(\w+)@/);
    figures.push(`shell: first command answered ${Date.now() - started} ms after ssh started`);
    expect(where[1]).toBe(`/var/www/magrathea/${APP}/production/current`);
    expect(where[2]).toBe(`m_${APP}_production`);
    // The env file of the release is sourced: SERVED_BY is ${host}, the first web host that answers.
    expect((await terminal.ask('echo "@env=$SERVED_BY@"', /@env=([a-z0-9-]+)@/))[1]).toBe('a-web-1');
    expect((await terminal.ask('echo "@size=$(stty size)@"', /@size=(\d+ \d+)@/))[1]).toBe('30 100');

    await terminal.resize(120, 40);
    expect((await terminal.ask('echo "@size=$(stty size)@"', /@size=(40 120)@/))[1]).toBe('40 120');

    await terminal.type('exit 7');
    expect(await terminal.exitStatus()).toBe(7);
    terminal.close();
  });

  it('runs on the host named, also without a local terminal (ssh -tt), and returns its exit status', async () => {
    const result = await ssh('admin', ['shell', `${APP}@cluster-b`, 'b-web-2'], { tty: true, input: 'echo "@served=$SERVED_BY@$GREETING@"\nexit 3\n' });
    expect(result.stdout).toContain('@served=b-web-2@Hallo from cluster-b@');
    expect(result.exitCode).toBe(3);
  });

  it('ends the remote shell when the client goes away', async () => {
    const [file, ...args] = sshArgv('admin', '-tt');
    const client = start(file!, [...args, 'shell', `${APP}@cluster-a`]);
    const sleeping = async () => {
      // A wide user column: ps shows a long name as a number otherwise.
      const ps = await sshRun(lab, 'a-web-1', ['ps', '-eo', 'user:32=,args=']);
      return ps.stdout.split('\n').filter((l) => /^\S+\s+sleep 4321$/.test(l.trim()));
    };
    try {
      client.stdin!.write('sleep 4321\n');
      const found = await waitFor('the remote sleep', async () => ((await sleeping()).length > 0 ? sleeping() : undefined));
      expect(found[0]).toMatch(new RegExp(`^m_${APP}_production\\s`));
    } finally {
      client.kill('SIGTERM');
      await client.catch(() => undefined);
    }
    await waitFor('the remote shell to end', async () => (await sleeping()).length === 0, 10_000);
    expect((await gatewaySide()).connections).toBe(0);
  });

  it('without a terminal says to use ssh -t, exit 2', async () => {
    const result = await ssh('admin', ['shell', `${APP}@cluster-a`]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(`shell needs a terminal: use ssh -t, as in: ssh -t magrathea shell ${APP}@cluster-a\n`);
  });
});

describe('access', () => {
  it('a member without the verb cannot read logs nor open a shell; another app\'s name in an option does not open the door', async () => {
    expect(await ssh('carol', ['logs', APP])).toMatchObject({ exitCode: 1, stderr: `magrathea: carol may not logs ${APP}\n` });
    const shell = await ssh('carol', ['shell', `${APP}@cluster-a`], { tty: true, input: 'exit 0\n' });
    expect(shell.exitCode).toBe(1);
    expect(shell.stderr).toContain(`magrathea: carol may not shell ${APP}`);
    for (const command of [['logs', '--cluster', 'shop-eu', APP], ['logs', '--env', 'shop-eu', APP], ['logs', '-n', '1', APP]]) {
      expect(await ssh('dave', command)).toMatchObject({ exitCode: 1, stderr: `magrathea: dave has no access to app ${APP}\n` });
    }
  });
});

describe('a web host that does not answer', () => {
  it('shell takes the next web host; logs shows the others and says which host failed (exit 1)', async () => {
    await sshRun(lab, 'a-web-1', ['sh', '-c', 'kill "$(cat /run/sshd.pid)"']);
    await waitFor('a-web-1 to refuse connections', async () => (await sshRun(lab, 'a-web-1', ['true'], { reject: false })).exitCode === 255);

    const shell = await ssh('admin', ['shell', `${APP}@cluster-a`], { tty: true, input: 'echo "@served=$SERVED_BY@"\nexit 0\n' });
    expect(shell.exitCode).toBe(0);
    expect(shell.stdout).toContain('@served=a-web-2@');
    expect(shell.stderr).toMatch(/magrathea shell: a-web-1: cannot reach host a-web-1: .*; trying the next host/);

    const named = await ssh('admin', ['shell', `${APP}@cluster-a`, 'a-web-1'], { tty: true, input: 'exit 0\n' });
    expect(named.exitCode).toBe(1);
    expect(named.stderr).toContain('no web host of cluster-a answers over SSH');

    const logs = await ssh('admin', ['logs', APP, '--cluster', 'cluster-a', '-n', '3', '--type', 'access']);
    expect(logs.exitCode).toBe(1);
    expect(logs.stdout.trimEnd().split('\n').every((l) => l.startsWith('cluster-a/a-web-2 '))).toBe(true);
    expect(logs.stderr).toMatch(/^magrathea logs: cluster-a\/a-web-1: cannot reach host a-web-1: /m);
  });
});
