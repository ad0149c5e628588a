import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MagratheaError } from '../core/errors.js';
import { checkReleaseTree, type ReleaseTreeRules, type TreeEntry, type TreeEntryKind } from '../core/release-tree.js';

/** Problems shown at most, so that a tree full of them still gives a readable push output. */
const SHOWN = 10;

/**
 * Walks a release tree once with lstat (links are read, never followed) and
 * refuses it, naming each file, when checkReleaseTree finds a reason. Run on
 * the tree that will ship, after every build command has ended (and with it
 * every process of the build), before anything is sent.
 */
export async function checkRelease(dir: string, rules: ReleaseTreeRules): Promise<void> {
  const problems = checkReleaseTree(await readTree(dir), rules);
  if (problems.length === 0) return;
  const more = problems.length > SHOWN ? [`... and ${problems.length - SHOWN} more`] : [];
  // The app's to fix: retrying the job builds the same tree.
  throw new MagratheaError(['release refused:', ...problems.slice(0, SHOWN), ...more].join('\n'), 'release-refused', 1, false);
}

/** Every path under `dir`, as lstat sees it. */
export async function readTree(dir: string): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  const visit = async (relative: string): Promise<void> => {
    const children = await readdir(join(dir, relative), { withFileTypes: true });
    const found = await Promise.all(children.map((child) => entryOf(dir, relative ? `${relative}/${child.name}` : child.name)));
    entries.push(...found);
    for (const entry of found) if (entry.kind === 'dir') await visit(entry.path);
  };
  await visit('');
  return entries;
}

async function entryOf(root: string, path: string): Promise<TreeEntry> {
  const full = join(root, path);
  const stats = await lstat(full);
  const kind = kindOf(stats);
  return { path, kind, mode: stats.mode & 0o7777, size: kind === 'file' ? stats.size : 0, ...(kind === 'link' ? { target: await readlink(full) } : {}) };
}

function kindOf(d: Stats): TreeEntryKind {
  if (d.isSymbolicLink()) return 'link';
  if (d.isDirectory()) return 'dir';
  if (d.isFile()) return 'file';
  if (d.isFIFO()) return 'fifo';
  if (d.isSocket()) return 'socket';
  return d.isBlockDevice() ? 'block-device' : 'char-device';
}
