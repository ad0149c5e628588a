import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { THROWAWAY_UIDS } from '../../src/builder/build-sandbox.js';
import { buildRelease as buildFromTree, builderPaths, checkoutDir, exportTree, workspaceDir } from '../../src/builder/build-release.js';
import { createRepo, destroyRepo, repoDir } from '../../src/push/repos.js';
import { commitFiles, gitIn, scratchRepo } from '../helpers/git-repo.js';

let root: string;
let repo: string;
const git = (...args: string[]) => gitIn(repo)(...args);
const commit = (files: Record<string, string>, message: string) => commitFiles(repo, files, message);

let exports = 0;
/** Exports the commit, as the push and `magrathea deploy` do, then builds it. */
async function buildRelease(options: { repo: string; commit: string; workspace: string; commands: string[]; log?: (line: string) => void }) {
  const tree = join(root, `tree-${++exports}`);
  await exportTree(options.repo, options.commit, tree, join(root, 'checkout'));
  return buildFromTree({ tree, commit: options.commit, workspace: options.workspace, commands: options.commands, log: options.log });
}

beforeAll(async () => {
  ({ root, repo } = await scratchRepo('magrathea-build-test-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('buildRelease', () => {
  it('exports the commit, runs the build commands, writes REVISION, and keeps unchanged files\' times', async () => {
    const first = await commit({ 'public/index.php': '<?php echo 1;', 'lib/a.php': '<?php // a', 'lib/b.php': '<?php // b' }, 'one');
    const workspace = join(root, 'ws');
    const lines: string[] = [];
    const built = await buildRelease({ repo, commit: first, workspace, commands: ['mkdir -p gen && echo built > gen/out.txt', 'echo hello from the build; echo "uid $(id -u) gid $(id -g) groups $(id -G)"'], log: (l) => lines.push(l) });
    expect(await readFile(join(built.dir, 'REVISION'), 'utf8')).toBe(`${first}\n`);
    expect(await readFile(join(built.dir, 'gen/out.txt'), 'utf8')).toBe('built\n');
    expect(lines).toContain('hello from the build');
    // The commands ran under a throwaway uid and gid, without the gateway's groups.
    const ids = lines.find((l) => l.startsWith('uid '))!.match(/^uid (\d+) gid (\d+) groups (\d+)$/);
    expect(ids).not.toBeNull();
    expect(Number(ids![1])).toBeGreaterThanOrEqual(THROWAWAY_UIDS.first);
    expect(Number(ids![1])).toBeLessThan(THROWAWAY_UIDS.first + THROWAWAY_UIDS.count);
    expect([ids![2], ids![3]]).toEqual([ids![1], ids![1]]);
    const before = { a: (await stat(join(built.dir, 'lib/a.php'))).mtimeMs, b: (await stat(join(built.dir, 'lib/b.php'))).mtimeMs, gen: (await stat(join(built.dir, 'gen/out.txt'))).mtimeMs };

    await new Promise((r) => setTimeout(r, 1100)); // mtimes have a one-second grain on some file systems
    const second = await commit({ 'lib/b.php': '<?php // b changed' }, 'two');
    const again = await buildRelease({ repo, commit: second, workspace, commands: ['mkdir -p gen && echo built > gen/out.txt'] });
    expect(again.dir).toBe(built.dir);
    expect((await stat(join(again.dir, 'lib/a.php'))).mtimeMs).toBe(before.a);
    expect((await stat(join(again.dir, 'gen/out.txt'))).mtimeMs).toBe(before.gen);
    expect((await stat(join(again.dir, 'lib/b.php'))).mtimeMs).toBeGreaterThan(before.b);
    expect(await readFile(join(again.dir, 'REVISION'), 'utf8')).toBe(`${second}\n`);
  });

  it('removes files deleted from the repository', async () => {
    const sha = (await git('rev-parse', 'HEAD')).stdout.trim();
    await git('rm', '-q', 'lib/a.php');
    await git('commit', '-q', '-m', 'drop a');
    const head = (await git('rev-parse', 'HEAD')).stdout.trim();
    expect(head).not.toBe(sha);
    const built = await buildRelease({ repo, commit: head, workspace: join(root, 'ws'), commands: [] });
    await expect(stat(join(built.dir, 'lib/a.php'))).rejects.toThrow(/ENOENT/);
  });

  it('fails with the command, its exit code and the end of its output, and leaves the last good release in place', async () => {
    const sha = (await git('rev-parse', 'HEAD')).stdout.trim();
    const workspace = join(root, 'ws');
    const revision = await readFile(join(workspace, 'release/REVISION'), 'utf8');
    await expect(buildRelease({ repo, commit: sha, workspace, commands: ['echo compiling; echo "syntax error in app.js" >&2; exit 3'] })).rejects.toThrow(
      /^build: echo compiling.* failed with exit code 3: syntax error in app\.js$/,
    );
    expect(await readFile(join(workspace, 'release/REVISION'), 'utf8')).toBe(revision);
  });

  it('without build commands, syncs the tree as it is: REVISION written, unchanged files keep their times', async () => {
    const workspace = join(root, 'ws-plain');
    const one = await commit({ 'plain/a.txt': 'a', 'plain/b.txt': 'b' }, 'plain one');
    const built = await buildRelease({ repo, commit: one, workspace, commands: [] });
    const before = (await stat(join(built.dir, 'plain/a.txt'))).mtimeMs;
    await new Promise((r) => setTimeout(r, 1100));
    const two = await commit({ 'plain/b.txt': 'b2' }, 'plain two');
    const again = await buildRelease({ repo, commit: two, workspace, commands: [] });
    expect((await stat(join(again.dir, 'plain/a.txt'))).mtimeMs).toBe(before);
    expect(await readFile(join(again.dir, 'plain/b.txt'), 'utf8')).toBe('b2');
    expect(await readFile(join(again.dir, 'REVISION'), 'utf8')).toBe(`${two}\n`);
  });

  it('names an unknown commit', async () => {
    await expect(buildRelease({ repo, commit: 'f'.repeat(40), workspace: join(root, 'ws2'), commands: [] })).rejects.toThrow(/^export failed with exit code 128: .*not a (valid object name|tree object)/i);
  });
});

describe('exportTree', () => {
  it('links unchanged files to the kept checkout, rewrites only changed ones, and never touches an earlier export', async () => {
    const checkout = join(root, 'export-checkout');
    const one = await commit({ 'x/keep.txt': 'kept', 'x/change.txt': 'old', 'x/gone.txt': 'gone' }, 'export one');
    const first = join(root, 'export-1');
    await exportTree(repo, one, first, checkout);
    await git('rm', '-q', 'x/gone.txt');
    // A second apart: the first export's hard links changed the checkout's ctimes, which git must not take for changes.
    await new Promise((r) => setTimeout(r, 1100));
    const two = await commit({ 'x/change.txt': 'new', 'x/added.txt': 'added' }, 'export two');
    const second = join(root, 'export-2');
    await exportTree(repo, two, second, checkout);

    expect(await readFile(join(second, 'x/change.txt'), 'utf8')).toBe('new');
    expect(await readFile(join(second, 'x/added.txt'), 'utf8')).toBe('added');
    await expect(stat(join(second, 'x/gone.txt'))).rejects.toThrow(/ENOENT/);
    // The unchanged file is the same inode in both exports; the changed one was replaced, not written into.
    expect((await stat(join(second, 'x/keep.txt'))).ino).toBe((await stat(join(first, 'x/keep.txt'))).ino);
    expect(await readFile(join(first, 'x/change.txt'), 'utf8')).toBe('old');
    expect(await readFile(join(first, 'x/gone.txt'), 'utf8')).toBe('gone');
    // Going back to the first commit restores it.
    const third = join(root, 'export-3');
    await exportTree(repo, one, third, checkout);
    expect(await readFile(join(third, 'x/change.txt'), 'utf8')).toBe('old');
    await expect(stat(join(third, 'x/added.txt'))).rejects.toThrow(/ENOENT/);
    // An unchanged file is not rewritten however soon the exports follow each other.
    expect((await stat(join(third, 'x/keep.txt'))).ino).toBe((await stat(join(first, 'x/keep.txt'))).ino);

    // Something wrote into the kept checkout: the next export is still the commit's tree, exactly.
    await writeFile(join(checkout, 'x/keep.txt'), 'tampered');
    await writeFile(join(checkout, 'x/stray.txt'), 'stray');
    const fourth = join(root, 'export-4');
    await exportTree(repo, two, fourth, checkout);
    expect(await readFile(join(fourth, 'x/keep.txt'), 'utf8')).toBe('kept');
    expect(existsSync(join(fourth, 'x/stray.txt'))).toBe(false);
    expect(await readFile(join(fourth, 'x/added.txt'), 'utf8')).toBe('added');
  });

  it('exports from a bare repository, as a push does', async () => {
    const bare = join(root, 'bare.git');
    await run('git', ['clone', '-q', '--bare', repo, bare]);
    const head = (await git('rev-parse', 'HEAD')).stdout.trim();
    const dest = join(root, 'export-bare');
    await exportTree(bare, head, dest, join(root, 'export-bare-checkout'));
    expect(await readFile(join(dest, 'x/change.txt'), 'utf8')).toBe('new');
  });

  it('exports of one checkout at the same time take turns, each with its own commit', async () => {
    const checkout = join(root, 'export-race');
    const commits: string[] = [];
    for (let i = 0; i < 4; i++) commits.push(await commit({ 'race/n.txt': `${i}`, [`race/only-${i}.txt`]: `${i}` }, `race ${i}`));
    await Promise.all(commits.map((c, i) => exportTree(repo, c, join(root, `race-${i}`), checkout)));
    for (let i = 0; i < 4; i++) {
      expect(await readFile(join(root, `race-${i}`, 'race/n.txt'), 'utf8')).toBe(`${i}`);
      // Files of later commits only: race-0 has only-0, race-3 has only-0..3 (each commit adds one).
      for (let j = 0; j < 4; j++) expect(existsSync(join(root, `race-${i}`, `race/only-${j}.txt`))).toBe(j <= i);
    }
  });
});

describe('apps:destroy on the gateway', () => {
  it('removes the app\'s repository, kept checkout and build workspaces, and nothing of an app whose name starts the same', async () => {
    const state = join(root, 'state');
    for (const app of ['shop', 'shop-two']) {
      await createRepo(state, app, join(root, 'config'), { maxPushSize: 1024 ** 2 });
      const head = (await git('rev-parse', 'HEAD')).stdout.trim();
      await exportTree(repo, head, join(state, 'sources', app, 'one'), checkoutDir(state, app));
      await buildFromTree({ tree: join(state, 'sources', app, 'one'), commit: head, workspace: workspaceDir(state, app, 'production'), commands: [] });
    }
    await destroyRepo(state, 'shop');
    for (const path of [repoDir(state, 'shop'), ...builderPaths(state, 'shop')]) expect(existsSync(path)).toBe(false);
    for (const path of [repoDir(state, 'shop-two'), ...builderPaths(state, 'shop-two')]) expect(existsSync(path)).toBe(true);
  });
});
