import { resolve } from 'node:path';
import { defineCommand } from '../../dispatch/command.js';
import { labDown } from '../../lab/down.js';
import { defaultLabDir } from '../../lab/paths.js';

/** `magrathea lab down`: every process of the lab stopped by PID, what it mounted unmounted. */
export default defineCommand<Awaited<ReturnType<typeof labDown>> & { dir: string }>({
  name: 'lab down',
  summary: 'stop every process of the lab by PID and unmount what it mounted (also after a crash); --purge also removes the lab directory',
  usage: '[--dir DIR] [--purge]',
  args: { values: ['dir'], booleans: ['purge'] },
  need: 'local',
  surfaces: ['cli'],
  async run(args, ctx) {
    const dir = args.values.dir ? resolve(ctx.io.cwd, args.values.dir) : defaultLabDir();
    return { ...(await labDown({ dir, purge: args.flags.has('purge') })), dir };
  },
  text: (r) => (r.found ? `lab down: ${r.stopped.length} process(es) stopped, nothing mounted${r.purged ? `, ${r.dir} removed` : ''}\n` : `no lab at ${r.dir}: nothing to do\n`),
});
