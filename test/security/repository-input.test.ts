/**
 * What a pusher can put in an app's repository on the gateway: refs with
 * odd names, a manifest that is a link. Real pushes, with
 * the gateway's real (compiled) hooks, into a real app repository; nothing
 * here deploys, so no lab is needed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { stopPrivateRedis } from '../../src/adapters/redis-server.js';
import { loadGatewayConfig } from '../../src/config/load.js';
import { readAppManifest } from '../../src/push/app-manifest.js';
import { readApp } from '../../src/push/read-app.js';
import { runCli } from '../helpers/cli.js';

// The hooks a repository gets point at the compiled code, as on a real gateway.
const repos = (await import(new URL('../../dist/src/push/repos.js', import.meta.url).href)) as typeof import('../../src/push/repos.js');

const MANIFEST = 'environments:\n  production: { branch: master, clusters: [c1] }\n';
const CLUSTERS = 'c1:\n  hosts:\n    w1: { address: 127.0.131.1, roles: [web] }\n    e1: { address: 127.0.131.2, roles: [cache, balancer] }\n';

let root: string;
let state: string;
let config: string;
let bare: string;
let work: string;
let victim: string;
const git = (...args: string[]) => run('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { reject: false });

async function commit(files: Record<string, string | { link: string }>): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await rm(join(work, path), { force: true, recursive: true });
    await mkdir(join(work, path, '..'), { recursive: true });
    if (typeof content === 'string') await writeFile(join(work, path), content);
    else await symlink(content.link, join(work, path));
  }
  await git('add', '-A');
  await git('commit', '-q', '-m', 'c');
  return (await git('rev-parse', 'HEAD')).stdout.trim();
}

const push = (...refspecs: string[]) => git('push', '--porcelain', bare, ...refspecs);
const remoteRefs = async () => (await run('git', ['-C', bare, 'for-each-ref', '--format=%(refname)'])).stdout.split('\n').filter(Boolean);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'magrathea-security-repo-'));
  state = join(root, 'state');
  config = join(root, 'config');
  await mkdir(config);
  await writeFile(join(config, 'clusters.yml'), CLUSTERS);
  await writeFile(join(config, 'gateway.yml'), `state_dir: ${state}\nbuilds:\n  max_push_size: 64K\n`);
  bare = await repos.createRepo(state, 'shop', config, (await loadGatewayConfig(config)).gateway.builds);
  // A manifest outside the repository, valid, that a link in it would lead to.
  victim = join(root, 'outside.yml');
  await writeFile(victim, 'environments:\n  staging: { branch: v1, clusters: [c1] }\n');
  work = join(root, 'work');
  await run('git', ['init', '-q', '-b', 'feature', work]);
  await commit({ 'magrathea.yml': MANIFEST, 'index.php': '<?php' });
}, 30_000);

// The hooks start the state directory's private Redis: stopped by its PID file, failed or not.
afterAll(async () => {
  await stopPrivateRedis(state).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

describe('refs', () => {
  it('stores branches and tags with valid names, and refuses any other ref or name, before anything of the push is kept', async () => {
    const ok = await push('HEAD:refs/heads/feature', 'HEAD:refs/tags/v1.0');
    expect(ok.stderr).toMatch(/feature: feeds no environment/);
    expect(ok.stderr).toMatch(/refs\/tags\/v1\.0: a tag: stored, nothing deployed/);
    expect(ok.exitCode).toBe(0);
    for (const [ref, message] of [
      ['refs/tags/v1;reboot', 'refs/tags/v1;reboot: "v1;reboot" is not a valid tag name'],
      ['refs/tags/$(id)', 'refs/tags/$(id): "$(id)" is not a valid tag name'],
      ['refs/heads/ünï', 'is not a valid branch name'],
      ['refs/notes/x', 'refs/notes/x: only branches (refs/heads/) and tags (refs/tags/) are accepted'],
    ] as const) {
      // With a good ref beside it: the whole push is refused.
      const refused = await push(`HEAD:${ref}`, 'HEAD:refs/tags/v2');
      expect(refused.stderr).toContain(message);
      expect(refused.exitCode).not.toBe(0);
    }
    expect(await remoteRefs()).toEqual(['refs/heads/feature', 'refs/tags/v1.0']);
  });
});

describe('magrathea.yml', () => {
  it('is refused on a branch when it is a link, or a directory, rather than read', async () => {
    await commit({ 'magrathea.yml': { link: victim } });
    const linked = await push('HEAD:refs/heads/feature');
    expect(linked.stderr).toContain('magrathea.yml: not a regular file in feature (a symbolic link): commit the file itself');
    expect(linked.exitCode).not.toBe(0);
    await rm(join(work, 'magrathea.yml'));
    await commit({ 'magrathea.yml/x': 'a directory' });
    expect((await push('HEAD:refs/heads/feature')).stderr).toContain('magrathea.yml: not a regular file in feature (a directory)');
  });

  it('is read from git for deploy APP TAG, and refused when the tag\'s commit has a link there', async () => {
    await commit({ 'magrathea.yml': { link: victim } });
    // Tags are stored without a manifest check: nothing deploys at a push of a tag.
    expect((await push('HEAD:refs/tags/v1')).exitCode).toBe(0);
    const deploy = await runCli(['deploy', bare, '--app', 'shop', '--ref', 'v1', '--config', config]);
    expect(deploy.stderr).toContain('magrathea.yml: not a regular file in v1 (a symbolic link)');
    expect(deploy.status).toBe(1);
  });

  it('of the default branch is the branch\'s, whatever a tag of the same name holds', async () => {
    await commit({ 'magrathea.yml': MANIFEST.replace('production', 'from-the-branch') });
    expect((await push('HEAD:refs/heads/feature')).exitCode).toBe(0);
    await commit({ 'magrathea.yml': MANIFEST.replace('production', 'from-a-tag') });
    expect((await push('HEAD:refs/tags/feature')).exitCode).toBe(0);
    const gateway = { ...(await loadGatewayConfig(config)) };
    gateway.gateway = { ...gateway.gateway, defaultBranch: 'feature' };
    expect((await readAppManifest(gateway, 'shop')).environments.map((e) => e.name)).toEqual(['from-the-branch']);
  });

  it('is never read through a link, nor from a fifo, in a tree on disk', async () => {
    const dir = join(root, 'tree');
    await mkdir(dir);
    await symlink(victim, join(dir, 'magrathea.yml'));
    await expect(readApp(dir, 'shop')).rejects.toThrow(`${join(dir, 'magrathea.yml')}: not a regular file (a symbolic link)`);
    await rm(join(dir, 'magrathea.yml'));
    await run('mkfifo', [join(dir, 'magrathea.yml')]);
    await expect(readApp(dir, 'shop')).rejects.toThrow(`${join(dir, 'magrathea.yml')}: not a regular file`);
  });
});
