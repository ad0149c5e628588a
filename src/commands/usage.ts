import { readUsage } from '../accounting/read-usage.js';
import { formatUsage } from '../core/accounting/usage.js';
import { UsageError } from '../core/errors.js';
import { checkDuration, checkName, durationSeconds } from '../core/values.js';
import { parseArgs } from './args.js';
import { openGatewayContext } from '../gateway/context.js';
import type { Command } from './types.js';

const usage = 'APP [--since 7d] [--json] [--config DIR]';

/**
 * `magrathea usage APP`: web traffic (counted at each cluster's edge, cache
 * hits included) per environment and cluster since --since (default 30d),
 * disk per host now, this month's traffic, and the quotas crossed.
 */
export const usageCommand: Command = {
  name: 'usage',
  summary: 'an app\'s web traffic per cluster (requests, bytes in and out, status classes) and disk per host, with its quotas',
  usage,
  async run(args, io) {
    const parsed = parseArgs('usage', usage, args, { values: ['since', 'config'], booleans: ['json'], positionals: [1, 1] });
    const app = parsed.positionals[0]!;
    const since = parsed.values.since ?? '30d';
    const problem = checkName(app) ?? checkDuration(since);
    if (problem) throw new UsageError(`usage: ${problem}\nusage: magrathea usage ${usage}`);
    const seconds = durationSeconds(since);
    if (seconds < 3600 || seconds > 10 * 365 * 86400) throw new UsageError(`usage: --since takes 1h to 10y, not ${since}`);
    const gateway = await openGatewayContext(parsed.values.config);
    try {
      const report = await readUsage({ redis: gateway.redis.client, keys: gateway.keys }, gateway.config, app, { sinceSeconds: seconds });
      io.stdout.write(parsed.flags.has('json') ? `${JSON.stringify(report, null, 2)}\n` : formatUsage(report));
    } finally {
      await gateway.close();
    }
  },
};
