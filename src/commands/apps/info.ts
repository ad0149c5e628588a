import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { repoDir } from '../../push/repos.js';
import { readReleasesLiveOn, releasesTable, type LiveRelease } from '../releases/releases.js';
import { existingApp } from '../targets.js';

interface AppInfo {
  app: string;
  repository: string;
  /** `env@cluster` → the release live there. */
  live: Record<string, string>;
  releases: LiveRelease[];
}

/** `apps:info APP`: the app's repository, and its releases with where each is live. */
export default defineCommand<AppInfo>({
  name: 'apps:info',
  summary: 'an app\'s repository, environments and live releases',
  usage: 'APP [--json]',
  args: { booleans: ['json'], positionals: [1, 1] },
  need: 'read',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const app = await existingApp(ctx, 'apps:info', args.positionals[0]!);
    const releases = await readReleasesLiveOn((await ctx.gateway()).state, app);
    const live = Object.fromEntries(releases.flatMap((r) => r.liveOn.map((cluster) => [`${r.env}@${cluster}`, r.id])));
    return { app, repository: repoDir((await ctx.config()).gateway.stateDir, app), live, releases };
  },
  text: (info) => `app ${info.app}\nrepository ${info.repository}\n${releasesTable(info.app, info.releases)}`,
});
