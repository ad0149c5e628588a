import { constants } from 'node:fs';
import { lstat, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { releasePathsToCheck, requiredExtensions, type ReleaseFacts } from '../core/advice.js';
import type { InstanceConfig } from '../core/manifest/types.js';

/** Bounds of the sessions scan: a push of a large vendor tree must not wait on advice. */
const SCAN_FILES = 5000;
const SCAN_BYTES = 256 * 1024;

/**
 * What the advice needs to know of a built release tree, for each instance
 * (they may differ in docroot and health path). The PHP files are read for
 * session use only when `scanSessions` (`sessionsMatterOn` a cluster).
 */
export async function readReleaseFacts(source: string, instances: readonly InstanceConfig[], scanSessions = true): Promise<ReleaseFacts[]> {
  const usesSessions = scanSessions && (await scanForSessions(source));
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
  // One buffer for the whole scan (the walk reads one file at a time): a fresh 256 KiB per file made a
  // 3000-file app's scan take seconds of a deploy.
  const buffer = Buffer.allocUnsafe(SCAN_BYTES);
  const walk = async (dir: string): Promise<boolean> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (seen >= SCAN_FILES) return false;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '.git' && entry.name !== 'node_modules' && (await walk(path))) return true;
      } else if (entry.isFile() && entry.name.endsWith('.php')) {
        seen++;
        if (/\bsession_start\s*\(|\$_SESSION\b/.test(await readHead(path, buffer))) return true;
      }
    }
    return false;
  };
  return walk(root);
}

/**
 * The first bytes of a regular file (never a link, a fifo or a device), '' when it is not one: opened
 * without following a link and without waiting on a fifo, then checked on what was opened.
 */
async function readHead(path: string, buffer = Buffer.allocUnsafe(SCAN_BYTES)): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!handle) return '';
  try {
    if (!(await handle.stat()).isFile()) return '';
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await handle.close();
  }
}
