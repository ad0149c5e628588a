import { lstat } from 'node:fs/promises';

/** Whether something (a dangling symlink too) is at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
