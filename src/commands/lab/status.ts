import { resolve } from 'node:path';
import { defineCommand } from '../../dispatch/command.js';
import { defaultLabDir } from '../../lab/paths.js';
import { readLabStatus, type LabStatus } from '../../lab/status.js';
import { formatStatus } from './format-status.js';

/** `magrathea lab status`: hosts, addresses, roles, edge URLs and whether each service answers. */
export default defineCommand<LabStatus>({
  name: 'lab status',
  summary: 'hosts, addresses, roles, each cluster\'s edge URL and whether each service answers; --json for scripts',
  usage: '[--dir DIR] [--json]',
  args: { values: ['dir'], booleans: ['json'] },
  need: 'local',
  surfaces: ['cli'],
  async run(args, ctx) {
    return readLabStatus(args.values.dir ? resolve(ctx.io.cwd, args.values.dir) : defaultLabDir());
  },
  text: formatStatus,
});
