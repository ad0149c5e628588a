import { readInstanceReleases } from '../state/host-releases.js';
import type { RedisContext } from '../state/redis.js';
import { listReleaseEnvs, listReleases, type Release } from '../state/releases.js';
import { checkName } from '../core/values.js';
import { UsageError } from '../core/errors.js';
import { parseArgs } from './args.js';
import { openGatewayContext } from '../gateway/context.js';
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
      const out = await readReleasesLiveOn({ redis: gateway.redis.client, keys: gateway.keys }, app, parsed.values.env);
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

/** An app's releases (of one environment, or all), newest first, each with the clusters it is live on. */
export async function readReleasesLiveOn(context: RedisContext, app: string, env?: string): Promise<(Release & { liveOn: string[] })[]> {
  const out = [];
  for (const e of env ? [env] : await listReleaseEnvs(context, app)) {
    const live = await readInstanceReleases(context, app, e);
    for (const release of await listReleases(context, app, e)) {
      out.push({ ...release, liveOn: Object.entries(live).filter(([, r]) => r.release === release.id).map(([c]) => c).sort() });
    }
  }
  return out;
}
