import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InvalidInputError, MagratheaError } from '../core/errors.js';
import type { Manifest } from '../core/manifest/types.js';
import { MANIFEST_FILE, MAX_MANIFEST_BYTES, validateManifest } from '../core/manifest/validate.js';
import { checkName } from '../core/values.js';

export interface AppSource {
  name: string;
  dir: string;
  manifest: Manifest;
}

/** Reads and validates `<dir>/magrathea.yml`; the app's name defaults to the directory's name. */
export async function readApp(dir: string, name?: string): Promise<AppSource> {
  const absolute = resolve(dir);
  const file = join(absolute, MANIFEST_FILE);
  const text = await readManifestFile(file, absolute);
  const appName = name ?? basename(absolute);
  const problem = checkName(appName);
  if (problem) {
    throw new MagratheaError(`app name: ${problem}${name === undefined ? ` (taken from the directory ${absolute}; give one with --app)` : ''}`, 'invalid-app-name');
  }
  const result = validateManifest(text, file);
  if ('problems' in result) throw new InvalidInputError(result.problems);
  return { name: appName, dir: absolute, manifest: result.manifest };
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
