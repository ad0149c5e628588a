import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { UsageError } from '../../core/errors.js';
import { formatTable } from '../../core/table.js';
import { checkName } from '../../core/values.js';
import { readInstanceReleases } from '../../state/host-releases.js';
import type { RedisContext } from '../../state/redis.js';
import { listReleaseEnvs, listReleases, type Release } from '../../state/releases.js';
import { existingApp } from '../targets.js';

/** A release and the clusters it is live on. */
export type LiveRelease = Release & { liveOn: string[] };

/** An app's releases (of one environment, or all), newest first, each with the clusters it is live on. */
export async function readReleasesLiveOn(context: RedisContext, app: string, env?: string): Promise<LiveRelease[]> {
  const out = [];
  for (const e of env ? [env] : await listReleaseEnvs(context, app)) {
    const live = await readInstanceReleases(context, app, e);
    for (const release of await listReleases(context, app, e)) {
      out.push({ ...release, liveOn: Object.entries(live).filter(([, r]) => r.release === release.id).map(([c]) => c).sort() });
    }
  }
  return out;
}

/** The release history as a terminal shows it. */
export function releasesTable(app: string, releases: readonly LiveRelease[]): string {
  if (releases.length === 0) return `${app} has no releases yet\n`;
  return formatTable([
    ['ENV', 'RELEASE', 'STATUS', 'COMMIT', 'CREATED', 'BY', 'LIVE ON'],
    ...releases.map((r) => [r.env, r.id, r.status, r.commit.slice(0, 12), r.createdAt.replace(/\.\d+Z$/, 'Z'), r.requestedBy, r.liveOn.join(',') || '-']),
  ]);
}

/** `releases APP`: the release history, newest first, with where each release is live. */
export default defineCommand<{ app: string; releases: LiveRelease[] }>({
  name: 'releases',
  summary: 'an app\'s releases, newest first, and the clusters each one is live on',
  usage: 'APP [--env ENV] [--json]',
  args: { values: ['env'], booleans: ['json'], positionals: [1, 1] },
  need: 'read',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const app = await existingApp(ctx, 'releases', args.positionals[0]!);
    const problem = args.values.env ? checkName(args.values.env) : undefined;
    if (problem) throw new UsageError(`releases: ${problem}`);
    return { app, releases: await readReleasesLiveOn((await ctx.gateway()).state, app, args.values.env) };
  },
  text: ({ app, releases }) => releasesTable(app, releases),
  json: ({ releases }) => releases,
});
