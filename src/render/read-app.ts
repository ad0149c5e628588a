import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InvalidInputError, MagratheaError } from '../core/errors.js';
import type { Manifest } from '../core/manifest/types.js';
import { MANIFEST_FILE, validateManifest } from '../core/manifest/validate.js';
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
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `no ${MANIFEST_FILE} in ${absolute}` : (e as Error).message;
    throw new MagratheaError(`${file}: ${reason}`, 'manifest-missing', 1, false, { cause: e });
  }
  const appName = name ?? basename(absolute);
  const problem = checkName(appName);
  if (problem) {
    throw new MagratheaError(`app name: ${problem}${name === undefined ? ` (taken from the directory ${absolute}; give one with --app)` : ''}`, 'invalid-app-name');
  }
  const result = validateManifest(text, file);
  if ('problems' in result) throw new InvalidInputError(result.problems);
  return { name: appName, dir: absolute, manifest: result.manifest };
}
