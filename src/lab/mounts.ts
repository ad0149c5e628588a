import { readFile } from 'node:fs/promises';
import { run } from '../adapters/exec.js';

/** Mount points of this process's mount namespace, from /proc/self/mountinfo (octal escapes decoded). */
export async function readMountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await readMountPoints()).includes(path);
}

/** Mount points at `dir` or below it, deepest first: the order they can be unmounted in. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const points = await readMountPoints();
  return [...new Set(points.filter((p) => p === dir || p.startsWith(`${dir}/`)))].sort((a, b) => b.length - a.length);
}

/** Unmounts every mount at `dir` or below it, including mounts stacked on the same point. */
export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const points = await mountsUnder(dir);
    if (points.length === 0) return;
    for (const point of points) await run('umount', [point]);
  }
  const left = await mountsUnder(dir);
  if (left.length > 0) throw new Error(`still mounted after unmounting: ${left.join(', ')}`);
}
