import { resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { defaultLabDir } from '../../lab/paths.js';
import { DEFAULT_SHAPE } from '../../lab/plan.js';
import { labUp } from '../../lab/up.js';
import { parseArgs } from '../args.js';
import type { LabVerb } from './verb.js';
import { formatStatus } from './format-status.js';

const usage = '[--clusters N] [--hosts M] [--subnet S] [--dir DIR] [--json]';

export const labUpVerb: LabVerb = {
  name: 'up',
  usage,
  summary: `start N clusters (default ${DEFAULT_SHAPE.clusters}) of M web hosts (default ${DEFAULT_SHAPE.webHosts}) and one edge host each, on 127.0.S.* onwards (default S=${DEFAULT_SHAPE.subnet}); again, with no flags, it restarts only what is down`,
  async run(args, io) {
    const parsed = parseArgs('lab up', usage, args, { values: ['clusters', 'hosts', 'subnet', 'dir'], booleans: ['json'] });
    const number = (flag: string): number | undefined => {
      const text = parsed.values[flag];
      if (text === undefined) return undefined;
      if (!/^[0-9]+$/.test(text)) throw new UsageError(`lab up: --${flag} needs a whole number, not ${JSON.stringify(text)}\nusage: magrathea lab up ${usage}`);
      return Number(text);
    };
    const shape = { clusters: number('clusters'), webHosts: number('hosts'), subnet: number('subnet') };
    const dir = parsed.values.dir ? resolve(io.cwd, parsed.values.dir) : defaultLabDir();
    const result = await labUp({ dir, shape });
    if (parsed.flags.has('json')) {
      io.stdout.write(`${JSON.stringify({ ...result.status, started: result.started, seconds: result.seconds }, null, 2)}\n`);
      return;
    }
    const what = result.started.length === 0 ? 'already up, nothing started' : `started ${result.started.length} host(s)`;
    io.stdout.write(`lab up in ${result.seconds.toFixed(1)} s: ${what}\n\n${formatStatus(result.status)}`);
  },
};
