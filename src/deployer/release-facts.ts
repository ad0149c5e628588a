import { lstat, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { releasePathsToCheck, requiredExtensions, type ReleaseFacts } from '../core/advice.js';
import type { InstanceConfig } from '../core/manifest/types.js';

/** Bounds of the sessions scan: a push of a large vendor tree must not wait on advice. */
const SCAN_FILES = 5000;
const SCAN_BYTES = 256 * 1024;

/** What the advice needs to know of a built release tree, for each instance (they may differ in docroot and health path). */
export async function readReleaseFacts(source: string, instances: readonly InstanceConfig[]): Promise<ReleaseFacts[]> {
  const usesSessions = await scanForSessions(source);
  return Promise.all(
    instances.map(async (instance) => {
      const paths: ReleaseFacts['paths'] = {};
      for (const path of releasePathsToCheck(instance)) {
        const stat = await lstat(join(source, path)).catch(() => undefined);
        paths[path] = stat?.isFile() ? 'file' : stat?.isDirectory() ? 'dir' : 'absent';
      }
      const htaccess = await readHead(join(source, instance.docroot, '.htaccess'));
      return { paths, frontController: /^\s*RewriteRule\s/im.test(htaccess), usesSessions };
    }),
  );
}

/** The PHP extensions the release's composer.json requires (none without one). */
export async function readRequiredExtensions(source: string): Promise<string[]> {
  const text = await readFile(join(source, 'composer.json'), 'utf8').catch(() => '');
  return text ? requiredExtensions(text) : [];
}

/** Whether some PHP file starts or uses PHP sessions; frameworks do it in vendor/, which is scanned too. */
async function scanForSessions(root: string): Promise<boolean> {
  let seen = 0;
  const walk = async (dir: string): Promise<boolean> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (seen >= SCAN_FILES) return false;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '.git' && entry.name !== 'node_modules' && (await walk(path))) return true;
      } else if (entry.isFile() && entry.name.endsWith('.php')) {
        seen++;
        if (/\bsession_start\s*\(|\$_SESSION\b/.test(await readHead(path))) return true;
      }
    }
    return false;
  };
  return walk(root);
}

/** The first SCAN_BYTES of a regular file (never a link, a fifo or a device), '' when it is not one. */
async function readHead(path: string): Promise<string> {
  if (!(await lstat(path).catch(() => undefined))?.isFile()) return '';
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const buffer = Buffer.alloc(SCAN_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SCAN_BYTES, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}
