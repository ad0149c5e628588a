import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { run } from '../adapters/exec.js';
import { InvalidInputError, MagratheaError } from '../core/errors.js';
import type { Manifest } from '../core/manifest/types.js';
import { MANIFEST_FILE, MAX_MANIFEST_BYTES, validateManifest } from '../core/manifest/validate.js';
import { checkName } from '../core/values.js';

/**
 * An app's manifest, the one way it is read: from a directory (`magrathea
 * validate`, `render`, `explain`) or from a repository at a revision (a
 * push, a deploy, the commands that act on an app), never through a link,
 * never more than a manifest may hold, validated.
 */
/** A work tree, or a revision of a repository; `env` is added to git's (a pre-receive hook's quarantine: GIT_OBJECT_DIRECTORY...). */
export type ManifestSource = { dir: string } | { repo: string; rev: string; ref?: string; env?: Readonly<Record<string, string>> };

/** The manifest of `source`, validated; `label` names it in problems (`shop@master:magrathea.yml`; default: the file, or REPO@REF). */
export async function readManifest(source: ManifestSource, label?: string): Promise<Manifest> {
  let text: string;
  if ('dir' in source) {
    const file = join(resolve(source.dir), MANIFEST_FILE);
    text = await readManifestFile(file, resolve(source.dir));
    label ??= file;
  } else {
    const ref = source.ref ?? source.rev;
    const found = await readManifestBlob(source.repo, source.rev, ref, source.env);
    if (found === undefined) throw new MagratheaError(`${MANIFEST_FILE}: missing at the root of ${source.rev.length === 40 ? source.rev.slice(0, 12) : ref}: every commit Magrathea deploys needs one`, 'manifest-missing');
    text = found;
    label ??= `${source.repo}@${ref}:${MANIFEST_FILE}`;
  }
  const parsed = validateManifest(text, label);
  if ('problems' in parsed) throw new InvalidInputError(parsed.problems);
  return parsed.manifest;
}

/**
 * The text of `magrathea.yml` at `rev` of the repository `repo` (bare or
 * not), read from git's objects and never from a checkout: a committed
 * symbolic link is a blob whose content is its target, which a checkout
 * would follow (`/etc/shadow`, `/dev/zero`). Only a regular file is taken.
 * Undefined when `rev` does not resolve or has no such file; `ref` names
 * the revision in errors (`master`, `v1.2`).
 */
async function readManifestBlob(repo: string, rev: string, ref = rev, env?: Readonly<Record<string, string>>): Promise<string | undefined> {
  const listed = await run('git', ['-C', repo, 'ls-tree', '-l', '-z', rev, '--', MANIFEST_FILE], { reject: false, ...(env ? { env } : {}) });
  const entry = /^(\d{6}) (\w+) ([0-9a-f]+) +(-|\d+)\t/.exec(listed.stdout);
  if (listed.exitCode !== 0 || !entry) return undefined;
  const [, mode, , object, size] = entry as unknown as [string, string, string, string, string];
  if (mode !== '100644' && mode !== '100755') {
    const what = mode === '120000' ? 'a symbolic link' : mode === '040000' ? 'a directory' : `mode ${mode}`;
    throw new MagratheaError(`${MANIFEST_FILE}: not a regular file in ${ref} (${what}): commit the file itself`, 'manifest-not-regular', 1, false);
  }
  if (Number(size) > MAX_MANIFEST_BYTES) {
    throw new MagratheaError(`${MANIFEST_FILE}: ${size} bytes in ${ref}, more than a manifest may hold (${MAX_MANIFEST_BYTES})`, 'manifest-too-large', 1, false);
  }
  return (await run('git', ['-C', repo, 'cat-file', 'blob', object], env ? { env } : {})).stdout;
}

export interface AppSource {
  name: string;
  dir: string;
  manifest: Manifest;
}

/** Reads and validates `<dir>/magrathea.yml`; the app's name defaults to the directory's name. */
export async function readApp(dir: string, name?: string): Promise<AppSource> {
  const absolute = resolve(dir);
  const manifest = await readManifest({ dir: absolute });
  const appName = name ?? basename(absolute);
  const problem = checkName(appName);
  if (problem) {
    throw new MagratheaError(`app name: ${problem}${name === undefined ? ` (taken from the directory ${absolute}; give one with --app)` : ''}`, 'invalid-app-name');
  }
  return { name: appName, dir: absolute, manifest };
}

/**
 * The manifest of an exported tree is the pusher's: never through a link
 * (O_NOFOLLOW), only a regular file (O_NONBLOCK: a fifo does not hang the
 * open), and only as much as a manifest may hold.
 */
async function readManifestFile(file: string, dir: string): Promise<string> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const stats = await handle.stat();
    if (!stats.isFile()) throw new MagratheaError(`${file}: not a regular file`, 'manifest-not-regular');
    if (stats.size > MAX_MANIFEST_BYTES) throw new MagratheaError(`${file}: ${stats.size} bytes, more than a manifest may hold (${MAX_MANIFEST_BYTES})`, 'manifest-too-large');
    return await handle.readFile('utf8');
  } catch (e) {
    if (e instanceof MagratheaError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? `no ${MANIFEST_FILE} in ${dir}` : code === 'ELOOP' ? 'not a regular file (a symbolic link)' : (e as Error).message;
    throw new MagratheaError(`${file}: ${reason}`, code === 'ELOOP' ? 'manifest-not-regular' : 'manifest-missing', 1, false, { cause: e });
  } finally {
    await handle?.close();
  }
}
