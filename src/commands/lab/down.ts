import { resolve } from 'node:path';
import { labDown } from '../../lab/down.js';
import { defaultLabDir } from '../../lab/paths.js';
import { parseArgs } from '../args.js';
import type { LabVerb } from './verb.js';

const usage = '[--dir DIR] [--purge]';

export const labDownVerb: LabVerb = {
  name: 'down',
  usage,
  summary: 'stop every process of the lab by PID and unmount what it mounted (also after a crash); --purge also removes the lab directory',
  async run(args, io) {
    const parsed = parseArgs('lab down', usage, args, { values: ['dir'], booleans: ['purge'] });
    const dir = parsed.values.dir ? resolve(io.cwd, parsed.values.dir) : defaultLabDir();
    const result = await labDown({ dir, purge: parsed.flags.has('purge') });
    if (!result.found) {
      io.stdout.write(`no lab at ${dir}: nothing to do\n`);
      return;
    }
    io.stdout.write(`lab down: ${result.stopped.length} process(es) stopped, nothing mounted${result.purged ? `, ${dir} removed` : ''}\n`);
  },
};
