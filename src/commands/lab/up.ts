import { resolve } from 'node:path';
import { defineCommand } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { defaultLabDir } from '../../lab/paths.js';
import { DEFAULT_SHAPE } from '../../lab/plan.js';
import type { LabStatus } from '../../lab/status.js';
import { labUp } from '../../lab/up.js';
import { formatStatus } from './format-status.js';

const usage = '[--clusters N] [--hosts M] [--subnet S] [--dir DIR] [--json]';

/**
 * `magrathea lab up`: real clusters on this machine, each host with its own
 * 127.0.x.y address, filesystem view, sshd, Apache with PHP-FPM, and per
 * cluster a Varnish and an HAProxy.
 */
export default defineCommand<LabStatus & { started: string[]; seconds: number }>({
  name: 'lab up',
  summary: `start N clusters (default ${DEFAULT_SHAPE.clusters}) of M web hosts (default ${DEFAULT_SHAPE.webHosts}) and one edge host each, on 127.0.S.* onwards (default S=${DEFAULT_SHAPE.subnet}); again, with no flags, it restarts only what is down`,
  usage,
  args: { values: ['clusters', 'hosts', 'subnet', 'dir'], booleans: ['json'] },
  need: 'local',
  surfaces: ['cli'],
  async run(args, ctx) {
    const number = (flag: string): number | undefined => {
      const text = args.values[flag];
      if (text === undefined) return undefined;
      if (!/^[0-9]+$/.test(text)) throw new UsageError(`lab up: --${flag} needs a whole number, not ${JSON.stringify(text)}\nusage: magrathea lab up ${usage}`);
      return Number(text);
    };
    const shape = { clusters: number('clusters'), webHosts: number('hosts'), subnet: number('subnet') };
    const dir = args.values.dir ? resolve(ctx.io.cwd, args.values.dir) : defaultLabDir();
    const result = await labUp({ dir, shape });
    return { ...result.status, started: result.started, seconds: result.seconds };
  },
  text: (r) => `lab up in ${r.seconds.toFixed(1)} s: ${r.started.length === 0 ? 'already up, nothing started' : `started ${r.started.length} host(s)`}\n\n${formatStatus(r)}`,
});
