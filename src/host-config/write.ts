import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RenderedFile } from '../core/render/cluster.js';

/** The directory of one host's files under an output directory: `<out>/<cluster>/<host>`. */
export function hostTree(out: string, cluster: string, host: string): string {
  return join(out, cluster, host);
}

/** Writes each file at `<out>/<cluster>/<host>/<absolute path on the host>`; returns the paths written. */
export async function writeRendered(out: string, cluster: string, files: RenderedFile[]): Promise<string[]> {
  const written: string[] = [];
  for (const file of files) {
    const target = join(hostTree(out, cluster, file.host), file.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content, { mode: file.mode });
    await chmod(target, file.mode); // writeFile's mode applies only to a new file
    written.push(target);
  }
  return written;
}
