import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { run, start } from '../../src/adapters/exec.js';
import { repoDir } from '../../src/push/repos.js';
import type { LabStatus } from '../../src/lab/status.js';
import { freePort } from '../helpers/free-port.js';
import { makeUserKeys, startGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';
import { useLab } from '../helpers/lab.js';

/**
 * The gateway's front door under attack: `magrathea serve` on the shared
 * lab, driven by the real OpenSSH client, raw sockets, fetch and the ssh2
 * client library. Two gateways: `open` with the default caps but a 2 s
 * auth timeout (floods, audit, revocation), `tight` with every cap small
 * (one test per cap). Each test asserts what the attacker wanted did not
 * happen.
 */
const APP = 'sec-app';
let lab: LabStatus;
let work: string;
const keys: Record<string, string> = {};
const figures: string[] = [];

interface Gateway extends TestGateway {
  name: string;
  ssh: number;
  api: string;
  config: string;
  stateDir: string;
}
const gateways: Record<string, Gateway> = {};

function userEntry(name: string, apps: string[], verbs: string[], key: string): string {
  return `${name}:\n  role: member\n  keys: ["${key}"]\n  apps: [${apps.map((a) => `"${a}"`).join(', ')}]\n  verbs: [${verbs.join(', ')}]\n`;
}

let baseUsers = '';
const memberKeys: Record<string, string> = {};

function usersYml(without: string[] = [], carolApps = ['sec-*']): string {
  return (
    baseUsers +
    userEntry('carol', carolApps, ['logs', 'deploy'], memberKeys.carol!) +
    (without.includes('dave') ? '' : userEntry('dave', ['sec-*'], ['logs'], memberKeys.dave!))
  );
}

/** Writes users.yml as Puppet would: a new file renamed into place. */
async function writeUsers(gateway: Gateway, text: string): Promise<void> {
  await writeFile(join(gateway.config, 'users.yml.new'), text);
  await rename(join(gateway.config, 'users.yml.new'), join(gateway.config, 'users.yml'));
}

async function startNamedGateway(name: string, limits: string): Promise<Gateway> {
  const dir = join(work, name);
  const config = join(dir, 'config');
  const stateDir = join(dir, 'state');
  await mkdir(stateDir, { recursive: true });
  await cp(lab.config, config, { recursive: true });
  const gatewayYml = (await readFile(join(config, 'gateway.yml'), 'utf8')).replace(/^state_dir: .*$/m, `state_dir: ${stateDir}`);
  await writeFile(join(config, 'gateway.yml'), `${gatewayYml}${limits}`);
  await writeFile(join(config, 'users.yml'), usersYml());
  const port = await freePort();
  // The gateway holds a socket per connection: its soft open-file limit is raised for the floods.
  const server = await startGateway(['--config', config, '--listen', `127.0.0.1:${port}`, '--http', '127.0.0.1:0', '--no-worker', '--no-accounting'], { openFiles: 8192 });
  const gateway: Gateway = { ...server, name, ssh: port, api: server.api!, config, stateDir };
  gateways[name] = gateway;
  return gateway;
}

function sshArgv(gateway: Gateway, who: string): string[] {
  return ['-p', String(gateway.ssh), '-i', keys[who]!, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${join(work, 'known_hosts')}`, '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=20', 'git@127.0.0.1'];
}

function ssh(gateway: Gateway, who: string, ...command: string[]) {
  return run('ssh', [...sshArgv(gateway, who), ...command], { reject: false, timeout: 60_000, input: '' });
}


async function token(gateway: Gateway, who: string, ...options: string[]): Promise<string> {
  const created = await ssh(gateway, who, 'tokens:create', '--json', ...options);
  expect(created).toMatchObject({ exitCode: 0 });
  return (JSON.parse(created.stdout) as { token: string }).token;
}

type AuditRow = { user: string; command: string; exitCode: number; from?: string; refused?: string };
async function audit(gateway: Gateway): Promise<AuditRow[]> {
  const listed = await ssh(gateway, 'admin', 'audit', '-n', '500', '--json');
  expect(listed.exitCode).toBe(0);
  return JSON.parse(listed.stdout) as AuditRow[];
}

/** An idle TCP connection from `localAddress`: when it closed, and what the server sent. */
interface Idle {
  socket: Socket;
  openedAt: number;
  closedAt?: number;
  received: string;
}
function openIdle(port: number, localAddress: string): Promise<Idle> {
  return new Promise((resolveOpen, rejectOpen) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    const idle: Idle = { socket, openedAt: 0, received: '' };
    socket.on('data', (d: Buffer) => (idle.received += d.toString('latin1')));
    socket.on('close', () => (idle.closedAt = Date.now()));
    socket.once('connect', () => {
      idle.openedAt = Date.now();
      resolveOpen(idle);
    });
    socket.once('error', (e) => (idle.openedAt ? undefined : rejectOpen(e)));
  });
}

/** The gateway's established TCP connections to the lab hosts' sshd: a logs -f holds some while it follows. */
async function hostConnections(gateway: Gateway): Promise<number> {
  const pid = await gatewayPid(gateway);
  const ss = await run('ss', ['-tnpH', 'state', 'established', '( dport = :22 )']);
  return ss.stdout.split('\n').filter((l) => l.includes(`pid=${pid},`)).length;
}

/** The node process (the sh that raised its file limit exec'd it: the same PID). */
async function gatewayPid(gateway: Gateway): Promise<number> {
  return gateway.pid;
}

/** A streaming fetch that keeps reading until aborted; `text` grows as lines come, `ended` says when the server ended it. */
function follow(url: string, bearer: string) {
  const controller = new AbortController();
  const state = { status: 0, text: '', ended: false, controller };
  const done = (async () => {
    try {
      const response = await fetch(url, { headers: { Authorization: `Bearer ${bearer}` }, signal: controller.signal });
      state.status = response.status;
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) state.text += Buffer.from(chunk).toString();
    } catch {
      // aborted by the test, or cut by the server
    }
    state.ended = true;
  })();
  return Object.assign(state, { done });
}

beforeAll(async () => {
  lab = await useLab();
  work = await mkdtemp(join(tmpdir(), 'magrathea-security-'));
  Object.assign(memberKeys, await makeUserKeys(lab, work, keys, ['carol', 'dave', 'stranger']));
  baseUsers = await readFile(join(lab.config, 'users.yml'), 'utf8');
  const open = await startNamedGateway('open', 'limits:\n  ssh: { auth_timeout: 2s, connections: 2100 }\n');
  const tight = await startNamedGateway(
    'tight',
    'limits:\n  ssh: { connections: 4, channels_per_connection: 2 }\n  http: { request_timeout: 2s, idle_timeout: 1s, connections: 4, streams_per_token: 1, requests_per_minute: 5 }\n  logs_follow_per_user: 1\n',
  );
  // The example app's manifest on the app's master, fetched straight into the gateway's repository: no push, no deploy.
  const repo = join(work, 'repo');
  await cp('examples/hello-php', repo, { recursive: true });
  await run('git', ['init', '-q', '-b', 'master', repo]);
  await run('git', ['-C', repo, 'add', '-A']);
  await run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'first']);
  for (const gateway of [open, tight]) {
    expect(await ssh(gateway, 'admin', 'apps:create', APP)).toMatchObject({ exitCode: 0 });
    await run('git', ['--git-dir', repoDir(gateway.stateDir, APP), 'fetch', '-q', repo, 'master:master']);
  }
}, 180_000);

// Every gateway is stopped by PID, failed or not; the shared lab by the run's teardown.
afterAll(async () => {
  for (const gateway of Object.values(gateways)) await gateway.stop();
  if (work) await rm(work, { recursive: true, force: true });
  if (figures.length > 0) process.stdout.write(`front door figures:\n${figures.map((f) => `  ${f}\n`).join('')}`);
});

describe('SSH limits', () => {
  it('2,000 idle TCP connections are closed after the auth timeout, while ssh apps:list still answers', async () => {
    const open = gateways.open!;
    const soft = Number((await run('sh', ['-c', 'ulimit -S -n'])).stdout.trim());
    // This process holds the 2,000 client sockets; the gateway raised its own limit at start.
    expect(soft).toBeGreaterThanOrEqual(2_200);
    // From 40 loopback addresses, 50 each: the per-address cap (its default, 50) is reached and not passed,
    // and the real client, from 127.0.0.1, has its own budget and room under the global cap (2,100).
    const started = Date.now();
    const idle: Idle[] = [];
    for (let a = 1; a <= 40; a++) idle.push(...(await Promise.all(Array.from({ length: 50 }, () => openIdle(open.ssh, `127.0.5.${a}`)))));
    const allOpen = Date.now();
    expect(idle).toHaveLength(2_000);
    const rss = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${await gatewayPid(open)}/status`, 'utf8'))![1];
    const t0 = Date.now();
    const listed = await ssh(open, 'admin', 'apps:list');
    const latency = Date.now() - t0;
    expect(listed).toMatchObject({ exitCode: 0, stdout: `${APP}\n` });
    await waitFor('every idle connection to be closed', async () => idle.every((i) => i.closedAt !== undefined), 20_000, async () => `${idle.filter((i) => !i.closedAt).length} still open`);
    const lived = idle.map((i) => i.closedAt! - i.openedAt);
    // None was closed well before the timeout (2 s; measured here, from when this busy process saw its connect), none kept much after it.
    expect(Math.min(...lived)).toBeGreaterThanOrEqual(1_500);
    expect(Math.max(...lived)).toBeLessThan(6_000);
    expect((await ssh(open, 'admin', 'apps:list')).exitCode).toBe(0);
    figures.push(`2,000 idle connections opened in ${allOpen - started} ms; each closed ${Math.min(...lived)}..${Math.max(...lived)} ms after it opened (auth_timeout 2 s); all gone ${Math.max(...idle.map((i) => i.closedAt!)) - started} ms after the first opened`);
    figures.push(`ssh apps:list with the 2,000 open: ${latency} ms; gateway RSS with them open: ${Math.round(Number(rss) / 1024)} MiB`);
  }, 60_000);

  it('one address cannot hold more than limits.ssh.connections_per_address; the refusal names the limit and others still get in', async () => {
    const open = gateways.open!;
    const held = await Promise.all(Array.from({ length: 50 }, () => openIdle(open.ssh, '127.0.6.1')));
    try {
      const refused = await openIdle(open.ssh, '127.0.6.1');
      await waitFor('the 51st connection to be closed', async () => refused.closedAt !== undefined, 5_000);
      expect(refused.received).toMatch(/^magrathea: too many connections from 127\.0\.6\.1 \(limits\.ssh\.connections_per_address: 50\)\r\n$/);
      expect(refused.received).not.toContain('SSH-2.0');
      expect((await ssh(open, 'admin', 'apps:list')).exitCode).toBe(0);
    } finally {
      for (const h of held) h.socket.destroy();
    }
  });

  it('past limits.ssh.connections every new connection is refused with the limit named, and is taken again once one closes', async () => {
    const tight = gateways.tight!;
    // Held until one is refused: whatever else holds a connection now counts too, so at most 4 get in.
    const held: Idle[] = [];
    let refused: Idle | undefined;
    try {
      for (let a = 1; a <= 6 && !refused; a++) {
        const next = await openIdle(tight.ssh, `127.0.7.${a}`);
        await new Promise((r) => setTimeout(r, 200));
        if (next.received.startsWith('magrathea:')) refused = next;
        else held.push(next);
      }
      expect(held.length).toBeLessThanOrEqual(4);
      await waitFor('the refused connection to be closed', async () => refused?.closedAt !== undefined, 5_000);
      expect(refused!.received).toBe('magrathea: too many connections to the gateway (limits.ssh.connections: 4)\r\n');
      expect((await ssh(tight, 'admin', 'apps:list')).exitCode).toBe(255);
    } finally {
      for (const h of held) h.socket.destroy();
    }
    await waitFor('the gateway to take connections again', async () => (await ssh(tight, 'admin', 'apps:list')).exitCode === 0, 10_000);
  });

  it('one connection cannot open more sessions than limits.ssh.channels_per_connection', async () => {
    const tight = gateways.tight!;
    const client = new ssh2.Client();
    await new Promise<void>((ready, fail) => {
      client.once('ready', () => ready()).once('error', fail);
      client.connect({ host: '127.0.0.1', port: tight.ssh, username: 'git', privateKey: readFileSync(keys.admin!, 'utf8') });
    });
    try {
      // Two sessions that wait (apps:destroy asks for the app's name), then a third.
      const exec = (command: string) => new Promise<ssh2.ClientChannel>((done, fail) => client.exec(command, (e, channel) => (e ? fail(e) : done(channel))));
      const first = await exec(`apps:destroy ${APP}`);
      const second = await exec(`apps:destroy ${APP}`);
      await expect(exec('apps:list')).rejects.toThrow(/open fail|prohibited/i);
      first.close();
      second.close();
    } finally {
      client.end();
    }
    expect((await ssh(tight, 'admin', 'apps:list')).stdout).toBe(`${APP}\n`);
    await waitFor('the refusal in the audit log', async () => (await audit(tight)).some((e) => e.refused === 'limits.ssh.channels_per_connection' && e.user === 'admin'));
  });

  it('logs -f per user counts SSH and HTTP together: past limits.logs_follow_per_user the next one is refused, naming the limit', async () => {
    const tight = gateways.tight!;
    const carol = await token(tight, 'carol');
    const stream = follow(`${tight.api}/v1/apps/${APP}/logs?follow=1&n=0`, carol);
    try {
      await waitFor('the HTTP logs -f to follow the hosts', async () => (await hostConnections(tight)) > 0, 20_000, async () => tight.log());
      const second = await ssh(tight, 'carol', 'logs', APP, '-f');
      expect(second.exitCode).toBe(1);
      expect(second.stderr).toMatch(/carol already follows 1 logs, over SSH and the HTTP API together \(limits\.logs_follow_per_user: 1\)/);
      expect(stream.ended).toBe(false);
    } finally {
      stream.controller.abort();
      await stream.done;
    }
  });
});

describe('HTTP limits', () => {
  it('a body sent 1 byte a second is cut after limits.http.request_timeout with a 408 naming the limit', async () => {
    const tight = gateways.tight!;
    const admin = await token(tight, 'admin');
    const { port } = new URL(tight.api);
    const socket = await openIdle(Number(port), '127.0.0.1');
    socket.socket.write(`PATCH /v1/apps/${APP}/config HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`);
    let sent = 0;
    const drip = setInterval(() => {
      if (!socket.socket.destroyed) socket.socket.write('{', () => undefined);
      sent++;
    }, 1_000);
    try {
      await waitFor('the slow request to be cut', async () => socket.closedAt !== undefined, 10_000);
    } finally {
      clearInterval(drip);
    }
    expect(socket.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*limits\.http\.request_timeout/);
    expect(socket.closedAt! - socket.openedAt).toBeLessThan(5_000);
    expect(sent).toBeLessThan(100);
    figures.push(`slow body (1 byte/s) cut ${socket.closedAt! - socket.openedAt} ms after it began (request_timeout 2 s)`);
  });

  it('a kept-alive connection that sends no further request is closed after limits.http.idle_timeout', async () => {
    const tight = gateways.tight!;
    const admin = await token(tight, 'admin');
    const socket = await openIdle(Number(new URL(tight.api).port), '127.0.0.1');
    socket.socket.write(`GET /v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\n\r\n`);
    await waitFor('the answer', async () => socket.received.includes(`["${APP}"]`), 10_000);
    const answeredAt = Date.now();
    await waitFor('the idle connection to be closed', async () => socket.closedAt !== undefined, 10_000);
    expect(socket.received).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Keep-Alive: timeout=1/);
    expect(socket.closedAt! - answeredAt).toBeLessThan(3_000);
  });

  it('past limits.http.connections a new connection is answered 503 naming the limit', async () => {
    const tight = gateways.tight!;
    const port = Number(new URL(tight.api).port);
    const held: Idle[] = [];
    let refused: Idle | undefined;
    try {
      for (let a = 1; a <= 6 && !refused; a++) {
        const next = await openIdle(port, `127.0.8.${a}`);
        await new Promise((r) => setTimeout(r, 200));
        if (next.received.startsWith('HTTP/1.1 503')) refused = next;
        else held.push(next);
      }
      expect(held.length).toBeLessThanOrEqual(4);
      await waitFor('the refused connection to be closed', async () => refused?.closedAt !== undefined, 5_000);
      expect(refused!.received).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*"error":"too many connections to the gateway \(limits\.http\.connections: 4\)"/);
    } finally {
      for (const h of held) h.socket.destroy();
    }
  });

  it('one token cannot send more than limits.http.requests_per_minute: 429 with Retry-After, naming the limit; another token is still served', async () => {
    const tight = gateways.tight!;
    const [busy, other] = [await token(tight, 'admin'), await token(tight, 'admin')];
    const get = (secret: string) => fetch(`${tight.api}/v1/apps`, { headers: { Authorization: `Bearer ${secret}` } });
    for (let i = 0; i < 5; i++) expect((await get(busy)).status).toBe(200);
    const refused = await get(busy);
    expect(refused.status).toBe(429);
    // One request every 12 s comes back: at most 12 s to wait.
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(12);
    expect(((await refused.json()) as { error: string }).error).toMatch(/^token \w+ sent more than 5 requests in a minute \(limits\.http\.requests_per_minute: 5\); retry in \d+ s$/);
    expect((await get(other)).status).toBe(200);
    await waitFor('the refusal in the audit log', async () => (await audit(tight)).some((e) => e.refused === 'limits.http.requests_per_minute'));
  });

  it('one token cannot hold more streams than limits.http.streams_per_token', async () => {
    const tight = gateways.tight!;
    const admin = await token(tight, 'admin');
    const stream = follow(`${tight.api}/v1/apps/${APP}/logs?follow=1&n=0`, admin);
    try {
      await waitFor('the first stream', async () => stream.status === 200);
      const second = await fetch(`${tight.api}/v1/run`, { method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ argv: ['apps:list'] }) });
      expect(second.status).toBe(429);
      expect(((await second.json()) as { error: string }).error).toMatch(/has 1 streams open already \(limits\.http\.streams_per_token: 1\)/);
      // Not a stream: still answered.
      expect((await fetch(`${tight.api}/v1/apps`, { headers: { Authorization: `Bearer ${admin}` } })).status).toBe(200);
    } finally {
      stream.controller.abort();
      await stream.done;
    }
  });
});

describe('the audit log', () => {
  it('never shows raw control characters a user typed, over SSH or HTTP', async () => {
    const open = gateways.open!;
    const admin = await token(open, 'admin');
    const evil = 'x\u001b]0;owned\u0007\u001b[2J\r\u009b31m';
    await ssh(open, 'admin', 'releases', `'${evil}'`);
    await fetch(`${open.api}/v1/run`, { method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ argv: ['releases', `api${evil}`] }) });
    const text = await waitFor(
      'both attempts in the audit log',
      async () => {
        const shown = await ssh(open, 'admin', 'audit', '-n', '50');
        return shown.stdout.includes('api: releases api') && shown.stdout.includes("releases 'x") ? shown.stdout : undefined;
      },
    );
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain("releases 'x\\x1b]0;owned\\x07\\x1b[2J\\r\\x9b31m'");
    const json = (await ssh(open, 'admin', 'audit', '-n', '50', '--json')).stdout;
    expect(json).not.toMatch(/\\u00[01][0-9a-f]|[\u007f-\u009f]/);
  });

  it('records refusals with who, what and from where: unknown keys, access denied, unknown commands, 401s and 403s', async () => {
    const open = gateways.open!;
    const carol = await token(open, 'carol');
    expect((await ssh(open, 'stranger', 'apps:list')).exitCode).toBe(255);
    expect((await ssh(open, 'carol', 'apps:create', 'sec-x')).exitCode).toBe(1);
    expect((await ssh(open, 'carol', 'nosuch')).exitCode).toBe(3);
    expect((await fetch(`${open.api}/v1/apps`)).status).toBe(401);
    expect((await fetch(`${open.api}/v1/apps`, { headers: { Authorization: `Bearer mg_${'B'.repeat(43)}` } })).status).toBe(401);
    expect((await fetch(`${open.api}/v1/audit`, { headers: { Authorization: `Bearer ${carol}` } })).status).toBe(403);
    const fingerprint = (await run('ssh-keygen', ['-l', '-f', `${keys.stranger}.pub`])).stdout.split(' ')[1]!;
    const from = expect.stringMatching(/^127\.0\.0\.1:\d+$/);
    const entries = await waitFor(
      'every refusal in the audit log',
      async () => {
        const rows = await audit(open);
        return rows.filter((e) => e.refused).length >= 6 && rows.some((e) => e.command === 'api: audit --json') ? rows : undefined;
      },
      15_000,
      async () => JSON.stringify(await audit(open)),
    );
    expect(entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ user: '-', refused: 'unknown-key', from, command: expect.stringContaining(fingerprint) }),
        expect.objectContaining({ user: 'carol', refused: 'forbidden', from, command: 'apps:create sec-x' }),
        expect.objectContaining({ user: 'carol', refused: 'unknown-command', from, command: 'nosuch' }),
        expect.objectContaining({ user: '-', refused: 'no-token', from, command: 'api: GET /v1/apps' }),
        expect.objectContaining({ user: '-', refused: 'unknown-token', from, command: 'api: GET /v1/apps' }),
        expect.objectContaining({ user: 'carol', refused: 'forbidden', from, command: 'api: audit --json' }),
      ]),
    );
  });
});

describe('revocation', () => {
  it('removing a user from users.yml ends their SSH logs -f and HTTP stream, and their token answers 401 at once', async () => {
    const open = gateways.open!;
    const dave = await token(open, 'dave');
    const sshFollow = start('ssh', [...sshArgv(open, 'dave'), 'logs', APP, '-f', '-n', '0'], { reject: false, stdio: 'pipe' });
    const httpFollow = follow(`${open.api}/v1/apps/${APP}/logs?follow=1&n=0`, dave);
    try {
      await waitFor('both to follow the hosts', async () => (await hostConnections(open)) >= 2 * 4 && httpFollow.status === 200, 20_000);
      const removedAt = Date.now();
      await writeUsers(open, usersYml(['dave']));
      const ended = await Promise.race([sshFollow, new Promise((r) => setTimeout(() => r(undefined), 10_000))]);
      expect(ended).toBeDefined();
      await waitFor('the HTTP stream to end', async () => httpFollow.ended, 10_000);
      figures.push(`dave removed: his ssh logs -f and HTTP stream ended within ${Date.now() - removedAt} ms`);
      const call = await fetch(`${open.api}/v1/apps`, { headers: { Authorization: `Bearer ${dave}` } });
      expect(call.status).toBe(401);
      expect((await ssh(open, 'dave', 'apps:list')).exitCode).toBe(255);
      await waitFor('the refused token in the audit log', async () => (await audit(open)).some((e) => e.user === 'dave' && e.refused === 'removed-user'));
    } finally {
      sshFollow.kill('SIGKILL');
      await sshFollow.catch(() => undefined);
      httpFollow.controller.abort();
      await writeUsers(open, usersYml());
      await waitFor('dave back', async () => (await ssh(open, 'dave', 'apps:list')).exitCode === 0);
    }
  }, 60_000);

  it('a broken users.yml is reported and the previous users kept: nobody is let in, nobody locked out', async () => {
    const open = gateways.open!;
    const before = open.log().length;
    try {
      await writeUsers(open, `${usersYml()}mallory:\n  role: root\n  keys: ["${memberKeys.stranger}"]\n`);
      await waitFor('the refusal in the gateway log', async () => open.log().slice(before).includes('users not reloaded'), 10_000, async () => open.log().slice(before));
      expect(open.log().slice(before)).toMatch(/users\.yml:\d+:\d+: mallory\.role: "root" is not one of: admin, member/);
      expect((await ssh(open, 'stranger', 'apps:list')).exitCode).toBe(255);
      expect((await ssh(open, 'carol', 'apps:list')).stdout).toBe(`${APP}\n`);
    } finally {
      await writeUsers(open, usersYml());
    }
  });

  it('a member whose apps shrink loses them at the next command on the same connection (SIGHUP)', async () => {
    const open = gateways.open!;
    const client = new ssh2.Client();
    await new Promise<void>((ready, fail) => {
      client.once('ready', () => ready()).once('error', fail);
      client.connect({ host: '127.0.0.1', port: open.ssh, username: 'git', privateKey: readFileSync(keys.carol!, 'utf8') });
    });
    const exec = (command: string) =>
      new Promise<{ stdout: string; stderr: string; code: number }>((done, fail) =>
        client.exec(command, (e, channel) => {
          if (e) return fail(e);
          const out = { stdout: '', stderr: '', code: -1 };
          channel.on('data', (d: Buffer) => (out.stdout += d.toString()));
          channel.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
          channel.on('exit', (code: number) => (out.code = code));
          channel.on('close', () => done(out));
        }),
      );
    try {
      expect(await exec(`releases ${APP}`)).toMatchObject({ code: 0 });
      // Written in place (no rename, so the watcher may or may not see it first); SIGHUP reloads it for sure.
      const before = open.log().length;
      await writeFile(join(open.config, 'users.yml'), usersYml([], ['other-*']));
      process.kill(await gatewayPid(open), 'SIGHUP');
      await waitFor('the reload', async () => open.log().slice(before).includes('users reloaded'), 10_000);
      expect(await exec(`releases ${APP}`)).toMatchObject({ code: 1, stderr: `magrathea: carol has no access to app ${APP}\n` });
      expect(await exec('apps:list')).toMatchObject({ code: 0, stdout: '' });
    } finally {
      client.end();
      await writeUsers(open, usersYml());
    }
  });

  it('tokens:create --expires: listed with its expiry; once expired it answers 401 and is recorded', async () => {
    const open = gateways.open!;
    const short = await token(open, 'carol', '--expires', '2s', '--label', 'short');
    await token(open, 'carol', '--expires', '30d', '--label', 'month');
    expect((await fetch(`${open.api}/v1/apps`, { headers: { Authorization: `Bearer ${short}` } })).status).toBe(200);
    const listed = (await ssh(open, 'carol', 'tokens:list')).stdout;
    const in30d = new Date(Date.now() + 30 * 86400_000).toISOString().slice(0, 10);
    expect(listed).toMatch(new RegExp(`expires ${in30d}T\\S+\\s+month`));
    await new Promise((r) => setTimeout(r, 2_500));
    const expired = await fetch(`${open.api}/v1/apps`, { headers: { Authorization: `Bearer ${short}` } });
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: string }).error).toMatch(/expired at/);
    expect((await ssh(open, 'carol', 'tokens:list')).stdout).toMatch(/expired \S+\s+short/);
    expect((await ssh(open, 'carol', 'tokens:create', '--expires', 'never')).exitCode).toBe(2);
    await waitFor('the expired token in the audit log', async () => (await audit(open)).some((e) => e.user === 'carol' && e.refused === 'expired-token'));
  });
});
