import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from '../../src/adapters/exec.js';

/** git in the work tree `repo`, as a test user (throws on a non-zero exit). */
export function gitIn(repo: string): (...args: string[]) => Promise<RunResult> {
  return (...args) => run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args]);
}

/** A new scratch directory (`prefix` for mkdtemp) holding an empty git repository `root/repo` on master. The suite removes `root`. */
export async function scratchRepo(prefix: string): Promise<{ root: string; repo: string }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const repo = join(root, 'repo');
  await mkdir(repo);
  await run('git', ['init', '-q', '-b', 'master', repo]);
  return { root, repo };
}

/**
 * Writes files in the work tree `repo` (a string: its content; `{ link }`:
 * a symbolic link; whatever was at the path is removed first), commits
 * everything and returns the commit.
 */
export async function commitFiles(repo: string, files: Record<string, string | { link: string }>, message: string, options: { allowEmpty?: boolean } = {}): Promise<string> {
  const git = gitIn(repo);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(repo, path, '..'), { recursive: true });
    await rm(join(repo, path), { force: true, recursive: true });
    if (typeof content === 'string') await writeFile(join(repo, path), content);
    else await symlink(content.link, join(repo, path));
  }
  await git('add', '-A');
  await git('commit', '-q', ...(options.allowEmpty ? ['--allow-empty'] : []), '-m', message);
  return (await git('rev-parse', 'HEAD')).stdout.trim();
}
