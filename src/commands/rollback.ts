import { UsageError } from '../core/errors.js';
import { checkName } from '../core/values.js';
import { readInstanceReleases } from '../state/host-releases.js';
import { listReleaseEnvs, listReleases } from '../state/releases.js';
import { parseArgs } from './args.js';
import { followWithWorker, openGatewayContext } from '../gateway/context.js';
import type { Command } from './types.js';

const usage = 'APP[@CLUSTER] [--to RELEASE] [--env ENV] [--config DIR]';

/**
 * `magrathea rollback`: back to the release before the live one (or --to),
 * on every cluster of the environment or the one named; queued like a
 * deploy (one at a time per app and environment) and followed to the end.
 */
export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'switch an app back to its previous release (or --to RELEASE), on all its clusters or app@cluster',
  usage,
  async run(args, io) {
    const parsed = parseArgs('rollback', usage, args, { values: ['to', 'env', 'config'], positionals: [1, 1] });
    const [app, cluster] = parsed.positionals[0]!.split('@') as [string, string | undefined];
    for (const name of [app, cluster, parsed.values.env].filter((n): n is string => n !== undefined)) {
      const problem = checkName(name);
      if (problem) throw new UsageError(`rollback: ${problem}`);
    }
    if (parsed.values.to !== undefined && !/^r[1-9][0-9]*$/.test(parsed.values.to)) throw new UsageError(`rollback: --to takes a release id like r3, not ${JSON.stringify(parsed.values.to)}`);

    const gateway = await openGatewayContext(parsed.values.config);
    try {
      const context = { redis: gateway.redis.client, keys: gateway.keys };
      const envs = parsed.values.env ? [parsed.values.env] : await listReleaseEnvs(context, app);
      if (envs.length !== 1) throw new UsageError(envs.length === 0 ? `rollback: ${app} has no releases` : `rollback: ${app} has several environments (${envs.join(', ')}): choose one with --env`);
      const env = envs[0]!;
      const live = await readInstanceReleases(context, app, env);
      const clusters = cluster ? [cluster] : Object.keys(live).sort();
      const current = live[clusters[0]!]?.release;
      if (!current) throw new UsageError(`rollback: ${app} (${env}) is not live on ${clusters[0] ?? 'any cluster'}`);
      const releases = await listReleases(context, app, env);
      // Default: the newest release older than the live one that went live (a failed one never served).
      const target = parsed.values.to ?? releases.find((r) => Number(r.id.slice(1)) < Number(current.slice(1)) && r.status !== 'failed' && r.status !== 'building')?.id;
      if (!target) throw new UsageError(`rollback: ${app} (${env}) has no release before ${current} to go back to`);
      const release = releases.find((r) => r.id === target);
      if (!release) throw new UsageError(`rollback: ${app} (${env}) has no release ${target}`);

      const jobId = await gateway.queue.enqueueDeploy({
        app, env, commit: release.commit, ref: release.ref, requestedBy: io.user ?? (process.env.SUDO_USER || process.env.USER || 'cli'),
        sourcePath: gateway.config.gateway.stateDir, rollbackTo: target, ...(cluster ? { clusters: [cluster] } : {}),
      });
      io.stdout.write(`rollback ${jobId}: ${app} (${env}) from ${current} to ${target}\n`);
      const result = await followWithWorker(gateway, jobId, parsed.values.config, (line) => io.stdout.write(`${line}\n`));
      io.stdout.write(result.summary);
    } finally {
      await gateway.close();
    }
  },
};
