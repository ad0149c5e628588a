import { resolve } from 'node:path';
import { defaultLabDir } from '../../lab/paths.js';
import { readLabStatus } from '../../lab/status.js';
import { parseArgs } from '../args.js';
import { formatStatus } from './format-status.js';
import type { LabVerb } from './verb.js';

const usage = '[--dir DIR] [--json]';

export const labStatusVerb: LabVerb = {
  name: 'status',
  usage,
  summary: 'hosts, addresses, roles, each cluster\'s edge URL and whether each service answers; --json for scripts',
  async run(args, io) {
    const parsed = parseArgs('lab status', usage, args, { values: ['dir'], booleans: ['json'] });
    const status = await readLabStatus(parsed.values.dir ? resolve(io.cwd, parsed.values.dir) : defaultLabDir());
    io.stdout.write(parsed.flags.has('json') ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  },
};
