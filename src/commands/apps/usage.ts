import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { readUsage } from '../../accounting/read-usage.js';
import { formatUsage, type UsageReport } from '../../core/accounting/usage.js';
import { UsageError } from '../../core/errors.js';
import { checkDuration, durationSeconds } from '../../core/values.js';
import { existingApp } from '../targets.js';

/**
 * `usage APP`: web traffic (counted at each cluster's edge, cache hits
 * included) per environment and cluster since --since (default 30d), disk
 * per host now, this month's traffic, and the quotas crossed.
 */
export default defineCommand<UsageReport>({
  name: 'usage',
  summary: 'an app\'s web traffic per cluster (requests, bytes in and out, status classes) and disk per host, with its quotas',
  usage: 'APP [--since 7d] [--json]',
  args: { values: ['since'], booleans: ['json'], positionals: [1, 1] },
  need: 'read',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const app = await existingApp(ctx, 'usage', args.positionals[0]!);
    const since = args.values.since ?? '30d';
    const problem = checkDuration(since);
    if (problem) throw new UsageError(`usage: ${problem}\nusage: magrathea usage APP [--since 7d] [--json]`);
    const seconds = durationSeconds(since);
    if (seconds < 3600 || seconds > 10 * 365 * 86400) throw new UsageError(`usage: --since takes 1h to 10y, not ${since}`);
    const gateway = await ctx.gateway();
    return readUsage(gateway.state, await ctx.config(), app, { sinceSeconds: seconds });
  },
  text: formatUsage,
});
