/**
 * A push bigger than builds.max_push_size: refused by git while it
 * receives it, before any hook runs or anything is stored. A real push into
 * a real app repository with the gateway's compiled hooks.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { stopPrivateRedis } from '../../src/adapters/redis-server.js';
import { loadGatewayConfig } from '../../src/config/load.js';

const repos = (await import(new URL('../../dist/src/push/repos.js', import.meta.url).href)) as typeof import('../../src/push/repos.js');

let root: string;
let state: string;
let config: string;
let bare: string;
let work: string;
const git = (...args: string[]) => run('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { reject: false });
const push = () => git('push', '--porcelain', bare, 'HEAD:refs/heads/feature');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'magrathea-security-push-'));
  state = join(root, 'state');
  config = join(root, 'config');
  await mkdir(config);
  await writeFile(join(config, 'clusters.yml'), 'c1:\n  hosts:\n    w1: { address: 127.0.131.1, roles: [web] }\n    e1: { address: 127.0.131.2, roles: [cache, balancer] }\n');
  await writeFile(join(config, 'gateway.yml'), `state_dir: ${state}\nbuilds:\n  max_push_size: 64K\n`);
  bare = await repos.createRepo(state, 'shop', config, (await loadGatewayConfig(config)).gateway.builds);
  work = join(root, 'work');
  await run('git', ['init', '-q', '-b', 'feature', work]);
  await writeFile(join(work, 'magrathea.yml'), 'environments:\n  production: { branch: master, clusters: [c1] }\n');
  await run('sh', ['-c', 'head -c 300000 /dev/urandom > "$1"', 'sh', join(work, 'big.bin')]);
  await git('add', '-A');
  await git('commit', '-q', '-m', 'big');
});

// A push that gets through starts the state directory's private Redis: stopped by its PID file, failed or not.
afterAll(async () => {
  await stopPrivateRedis(state).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

describe('the push size', () => {
  it('is capped by git itself (receive.maxInputSize), set on every repository from gateway.yml', async () => {
    const big = await push();
    expect(big.stderr).toMatch(/pack exceeds maximum allowed size/);
    expect(big.exitCode).not.toBe(0);
    expect((await run('git', ['-C', bare, 'config', 'receive.maxInputSize'])).stdout.trim()).toBe(String(64 * 1024));
    // An existing repository follows a changed gateway.yml at the gateway's next start (configureRepo).
    await repos.configureRepo(bare, config, { maxPushSize: 1024 ** 2 });
    expect((await push()).exitCode).toBe(0);
  });
});
