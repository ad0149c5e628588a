import { readInstanceReleases } from '../state/host-releases.js';
import { listReleaseEnvs, listReleases } from '../state/releases.js';
import { checkName } from '../core/values.js';
import { UsageError } from '../core/errors.js';
import { parseArgs } from './args.js';
import { openGatewayContext } from './gateway-context.js';
import type { Command } from './types.js';

const usage = 'APP [--env ENV] [--json] [--config DIR]';

/** `magrathea releases APP`: the release history, newest first, with where each release is live. */
export const releasesCommand: Command = {
  name: 'releases',
  summary: 'list an app\'s releases, newest first, and the clusters each one is live on',
  usage,
  async run(args, io) {
    const parsed = parseArgs('releases', usage, args, { values: ['env', 'config'], booleans: ['json'], positionals: [1, 1] });
    const app = parsed.positionals[0]!;
    const problem = checkName(app) ?? (parsed.values.env ? checkName(parsed.values.env) : undefined);
    if (problem) throw new UsageError(`releases: ${problem}`);
    const gateway = await openGatewayContext(parsed.values.config);
    try {
      const context = { redis: gateway.redis.client, keys: gateway.keys };
      const envs = parsed.values.env ? [parsed.values.env] : await listReleaseEnvs(context, app);
      const out = [];
      for (const env of envs) {
        const live = await readInstanceReleases(context, app, env);
        for (const release of await listReleases(context, app, env)) {
          const clusters = Object.entries(live).filter(([, r]) => r.release === release.id).map(([c]) => c).sort();
          out.push({ ...release, liveOn: clusters });
        }
      }
      if (parsed.flags.has('json')) {
        io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      if (out.length === 0) {
        io.stdout.write(`${app} has no releases yet\n`);
        return;
      }
      const rows = [['ENV', 'RELEASE', 'STATUS', 'COMMIT', 'CREATED', 'BY', 'LIVE ON']].concat(
        out.map((r) => [r.env, r.id, r.status, r.commit.slice(0, 12), r.createdAt.replace(/\.\d+Z$/, 'Z'), r.requestedBy, r.liveOn.join(',') || '-']),
      );
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
      io.stdout.write(`${rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n')}\n`);
    } finally {
      await gateway.close();
    }
  },
};
