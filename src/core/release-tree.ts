import { formatBytes } from './accounting/usage.js';

/**
 * What may ship in a release. The tree was written by the app's own build
 * commands, and root copies it onto every web host, where root then works
 * inside it (shared links, ownership): whatever in it could lead root, or
 * the instance's user, outside the release is refused here, before anything
 * is sent. Pure: the builder walks the tree and passes what it found.
 */

export type TreeEntryKind = 'file' | 'dir' | 'link' | 'fifo' | 'socket' | 'block-device' | 'char-device';

/** One path of a release tree, as lstat saw it (links are not followed). */
export interface TreeEntry {
  /** Relative to the release's root, `/`-separated, no leading `./`. */
  path: string;
  kind: TreeEntryKind;
  /** st_mode & 0o7777. */
  mode: number;
  /** Bytes, for regular files. */
  size: number;
  /** A link's target, as readlink gives it. */
  target?: string;
}

export interface ReleaseTreeRules {
  /** The instance's `shared:` paths (of every cluster the release goes to): the hosts replace each with a link. */
  shared: string[];
  /** Bytes the release's regular files may add up to. */
  maxSize: number;
}

/** Links followed within one resolution before giving up, as the kernel's own limit. */
const MAX_LINKS = 40;

/** One directory of a path being resolved: `known` when the tree has it as a real directory (not a link, not missing, not shared). */
interface Step {
  name: string;
  known: boolean;
}

type Resolution = { steps: Step[] } | { problem: string };

/**
 * Every reason to refuse the tree, one line each naming the file (an empty
 * list: it may ship). Setuid and setgid bits are refused rather than
 * stripped: no PHP app needs one, and a build that makes one is either
 * broken or an attempt on the hosts; either way its author should hear of it
 * by name rather than find a quietly different file on the hosts.
 */
export function checkReleaseTree(entries: readonly TreeEntry[], rules: ReleaseTreeRules): string[] {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const shared = rules.shared.map((s) => s.split('/'));
  const isShared = (parts: readonly string[]): boolean => shared.some((s) => s.length <= parts.length && s.every((p, i) => parts[i] === p));
  const problems: string[] = [];
  let size = 0;

  /** Walks `target` from the directory `from` as the kernel would, over the tree's entries. */
  const resolve = (from: Step[], target: string, depth: number): Resolution => {
    if (target.startsWith('/')) return { problem: 'an absolute link' };
    const steps = [...from];
    for (const name of target.split('/')) {
      if (name === '' || name === '.') continue;
      if (name === '..') {
        const left = steps.pop();
        if (!left) return { problem: 'it resolves outside the release' };
        // `..` out of a missing or shared directory lands where the tree cannot tell (a shared dir is a link on the hosts).
        if (!left.known) return { problem: `it climbs out of ${left.name}, which is not a directory of the release` };
        continue;
      }
      steps.push({ name, known: false });
      const parts = steps.map((s) => s.name);
      if (isShared(parts)) continue;
      const entry = byPath.get(parts.join('/'));
      if (entry?.kind === 'dir') steps.at(-1)!.known = true;
      if (entry?.kind === 'link') {
        if (depth >= MAX_LINKS) return { problem: 'too many levels of links' };
        const through = resolve(steps.slice(0, -1), entry.target ?? '', depth + 1);
        if ('problem' in through) return through.problem === 'too many levels of links' ? through : { problem: `it goes through ${entry.path}, which leads outside the release` };
        steps.splice(0, steps.length, ...through.steps);
      }
    }
    return { steps };
  };

  for (const entry of entries) {
    switch (entry.kind) {
      case 'dir':
      case 'file':
        if (entry.mode & 0o6000) problems.push(`${entry.path}: ${entry.mode & 0o4000 ? 'setuid' : 'setgid'} bit (mode ${entry.mode.toString(8)}): refused; a release needs no setuid or setgid file`);
        if (entry.kind === 'file') size += entry.size;
        break;
      case 'link': {
        const parts = entry.path.split('/').slice(0, -1);
        const from = parts.map((name, i) => ({ name, known: !isShared(parts.slice(0, i + 1)) }));
        const resolved = resolve(from, entry.target ?? '', 0);
        if ('problem' in resolved) problems.push(`${entry.path}: link to ${entry.target}: refused: ${resolved.problem}; a link in a release must be relative and stay inside it`);
        break;
      }
      default:
        problems.push(`${entry.path}: a ${entry.kind.replace('-', ' ')}: refused; a release holds files, directories and links only`);
    }
  }

  for (const path of rules.shared) {
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const entry = byPath.get(parts.slice(0, i).join('/'));
      if (!entry || entry.kind === 'dir') continue;
      const what = entry.kind === 'link' ? `a link (to ${entry.target})` : `a ${entry.kind.replace('-', ' ')}`;
      problems.push(`shared path ${path}: ${entry.path} is ${what} in the release: a shared path may not cross a link, and must be a directory or absent`);
      break;
    }
  }

  if (size > rules.maxSize) problems.push(`the release is ${formatBytes(size)} (${size} bytes), over the limit of ${formatBytes(rules.maxSize)} (builds.max_release_size)`);
  return problems;
}
