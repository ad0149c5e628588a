import { mkdir, open, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { isAlive } from '../../src/lab/processes.js';

/**
 * Reserves the first subnet among `candidates` for a lab of `clusters`
 * clusters: a file `subnet-<n>` in `dir` holding the owner's PID, taken
 * with O_EXCL, so test runs started at the same moment never pick the
 * same addresses; a reservation whose owner died is taken over. The lab's
 * addresses must also be free (a user's lab may hold them).
 */
export async function reserveSubnet(dir: string, candidates: readonly number[], clusters: number, owner: number): Promise<number> {
  await mkdir(dir, { recursive: true });
  for (const subnet of candidates) {
    if (!(await claim(join(dir, `subnet-${subnet}`), owner))) continue;
    let free = true;
    for (let c = 0; c < clusters && free; c++) free = await canBind(`127.0.${subnet + c}.1`, 22);
    if (free) return subnet;
    await rm(join(dir, `subnet-${subnet}`), { force: true });
  }
  throw new Error(`no free lab subnet among ${candidates.join(', ')}: other labs hold them (magrathea lab down --dir ...)`);
}

/** Drops every reservation of `owner`. */
export async function releaseSubnets(dir: string, owner: number): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith('subnet-')) continue;
    if ((await readFile(join(dir, name), 'utf8').catch(() => '')).trim() === String(owner)) await rm(join(dir, name), { force: true });
  }
}

async function claim(file: string, owner: number): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${owner}\n`);
      await handle.close();
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (holder === owner) return false;
    if (Number.isInteger(holder) && holder > 0 && (await isAlive(holder))) return false;
    await rm(file, { force: true });
  }
  return false;
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
