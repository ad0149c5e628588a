/**
 * The git hooks of a push through the gateway's SSH server run in the
 * gateway (push/hook-server.ts): the hook process only hands its input
 * over the gateway's socket. A real `magrathea serve` without a deploy
 * worker, so that a push waits at its queued deploy; the real OpenSSH
 * client and git; no lab (nothing is deployed).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, start } from '../../src/adapters/exec.js';
import { stopPrivateRedis } from '../../src/adapters/redis-server.js';
import { openDeployQueue } from '../../src/deployer/queue.js';
import { openRedis } from '../../src/state/redis.js';
import { freePort } from '../helpers/free-port.js';
import { gatewayClient, startGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

const HOOK = resolve('dist/src/cli/hook.js');
const QUEUED = /deploy \S+: shop \(production\)/;

let root: string;
let state: string;
let config: string;
let port = 0;
let gateway: TestGateway | undefined;
const keys: Record<string, string> = {};
const client = gatewayClient(() => port, keys, () => join(root, 'known_hosts'));
/** Process groups of the pushes started, stopped in afterAll whatever happened. */
const groups = new Set<number>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'magrathea-push-hooks-'));
  state = join(root, 'state');
  config = join(root, 'config');
  await mkdir(config);
  // Never reached: no deploy worker runs.
  await writeFile(join(config, 'clusters.yml'), 'c1:\n  hosts:\n    w1: { address: 127.0.133.1, roles: [web] }\n    e1: { address: 127.0.133.2, roles: [cache, balancer] }\n');
  await writeFile(join(config, 'gateway.yml'), `state_dir: ${state}\n`);
  keys.admin = join(root, 'admin_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'admin', '-f', keys.admin]);
  await writeFile(join(config, 'users.yml'), `admin:\n  role: admin\n  keys: ["${(await readFile(`${keys.admin}.pub`, 'utf8')).trim()}"]\n`);
  port = await freePort();
  gateway = await startGateway(['--config', config, '--listen', `127.0.0.1:${port}`, '--no-http', '--no-worker', '--no-accounting']);
  expect((await client.ssh('admin', 'apps:create', 'shop')).exitCode).toBe(0);
  const work = join(root, 'work');
  await mkdir(work);
  await writeFile(join(work, 'magrathea.yml'), 'environments:\n  production: { branch: master, clusters: [c1] }\n');
  await writeFile(join(work, 'index.php'), '<?php echo 0;');
  await run('git', ['init', '-q', '-b', 'master', work]);
  await client.git(work, 'admin', 'add', '-A');
  await client.git(work, 'admin', 'commit', '-q', '-m', 'first');
}, 60_000);

// The gateway and the pushes by PID (each push's process group), the private Redis of the state directory: failed or not.
afterAll(async () => {
  await gateway?.stop();
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await stopPrivateRedis(state).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

/** PIDs of the processes whose command line holds `text`, this test's own excepted. */
async function processesWith(text: string): Promise<number[]> {
  const found = await run('pgrep', ['-f', '--', text], { reject: false });
  return found.stdout.split('\n').filter(Boolean).map(Number).filter((pid) => pid !== process.pid);
}

/** A hook run by hand against the gateway's socket, with this environment and input. */
function forgedHook(env: Record<string, string>, input: string) {
  return run('node', [HOOK, 'pre-receive'], { reject: false, input, env: { MAGRATHEA_HOOK_SOCKET: join(state, 'run/hooks.sock'), ...env }, timeout: 30_000 });
}

describe('the hooks of a push through the gateway', () => {
  it('run in the gateway: a forged hook is refused, and stopping the gateway ends the push at once, rejected, leaving no process behind', async () => {
    const push = start('git', ['-C', join(root, 'work'), 'push', `ssh://git@127.0.0.1:${port}/shop.git`, 'master'], {
      detached: true,
      env: { GIT_SSH_COMMAND: client.sshCommand('admin').join(' ') },
    });
    groups.add(push.pid!);
    let said = '';
    push.stderr!.on('data', (chunk: Buffer) => void (said += String(chunk)));
    const pushed = push.catch((e: unknown) => e);
    await waitFor('the push to queue its deploy', async () => QUEUED.test(said), 30_000, async () => `${said}\n${gateway!.log()}`);

    // The socket is the gateway user's alone.
    expect((await stat(join(state, 'run'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(state, 'run/hooks.sock'))).mode & 0o777).toBe(0o600);

    // A hook the gateway did not start, with a made-up secret: refused, whatever it claims.
    const forged = await forgedHook({ MAGRATHEA_HOOK_TOKEN: 'made-up', MAGRATHEA_USER: 'admin' }, `${'0'.repeat(40)} ${'1'.repeat(40)} refs/heads/master\n`);
    expect(forged).toMatchObject({ exitCode: 1, stderr: 'magrathea: this hook belongs to no push of the gateway: push rejected\n' });

    // The live push's own secret, read from its git-receive-pack, with objects claimed outside the repository: refused.
    const [receivePack] = await processesWith(`git-receive-pack ${join(state, 'repos/shop.git')}`);
    expect(receivePack).toBeGreaterThan(1);
    const environ = (await readFile(`/proc/${receivePack}/environ`, 'utf8')).split('\0');
    const token = environ.find((e) => e.startsWith('MAGRATHEA_HOOK_TOKEN='))!.slice('MAGRATHEA_HOOK_TOKEN='.length);
    const outside = await forgedHook({ MAGRATHEA_HOOK_TOKEN: token, GIT_OBJECT_DIRECTORY: '/etc' }, '');
    expect(outside).toMatchObject({ exitCode: 1, stderr: 'magrathea: /etc is not in the app\'s repository: push rejected\n' });

    // The gateway stops (its service restarted): the waiting hook ends now, not when its deploy would have.
    const began = Date.now();
    await gateway!.stop();
    gateway = undefined;
    const ended = (await pushed) as { exitCode?: number };
    expect(Date.now() - began).toBeLessThan(15_000);
    expect(ended.exitCode).not.toBe(0);
    expect(said).toMatch(/the gateway stopped during the push: push rejected/);
    expect(said).toMatch(/! \[remote rejected\] master -> master \(pre-receive hook declined\)/);
    groups.delete(push.pid!);
    // The deploy it queued waited for a worker: taken off the queue with the push (its source is gone), never run later.
    const redis = await openRedis({ stateDir: state, env: {} });
    try {
      const queue = await openDeployQueue({ redis });
      expect(await queue.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized')).toEqual({ waiting: 0, delayed: 0, active: 0, prioritized: 0 });
      await queue.close();
    } finally {
      await redis.stop();
    }
    await waitFor('no hook or git-receive-pack left', async () => (await processesWith(HOOK)).length === 0 && (await processesWith('git-receive-pack')).every((pid) => pid !== receivePack), 10_000);
  }, 120_000);
});
