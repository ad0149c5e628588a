import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { captureBackup, copyDatabase } from '../../deployer/database-backups.js';
import { existingApp, appEnvironment } from '../targets.js';
import { confirmApp } from './confirm.js';
import { databaseTarget, type DatabaseTarget } from './target.js';

interface Copied {
  app: string;
  from: string;
  /** Each target, the source's cluster it was copied from, and the backup of what it held before. */
  to: { env: string; cluster: string; from: string; backup: string }[];
  seconds: number;
}

/** `ENV` or `ENV@CLUSTER`, as --from and --to take them. */
function parseEnd(flag: string, text: string | undefined): { env: string; cluster?: string } {
  if (!text) throw new UsageError(`db:copy: ${flag} ENV is needed\nusage: db:copy APP --from ENV[@CLUSTER] --to ENV[@CLUSTER] [--cluster CLUSTER] [--confirm APP]`);
  const [env, cluster, ...rest] = text.split('@');
  if (!env || rest.length > 0 || cluster === '') throw new UsageError(`db:copy: ${flag} ${JSON.stringify(text)} is not ENV or ENV@CLUSTER`);
  return cluster === undefined ? { env } : { env, cluster };
}

/**
 * `db:copy APP --from ENV --to ENV`: one environment's database loaded into
 * another's (staging refreshed from production), on each cluster of the
 * target: from the source on the same cluster when it is there, else from
 * the source's first cluster, through the gateway. `--cluster` (or
 * ENV@CLUSTER) picks the cluster. The target is backed up first (the copy
 * can be undone with db:backups:restore); onto the environment of the
 * default branch (production) only with --confirm naming the app.
 */
export default defineCommand<Copied>({
  name: 'db:copy',
  summary: "load one environment's database into another's (backed up first; onto production only with --confirm APP)",
  usage: 'APP --from ENV[@CLUSTER] --to ENV[@CLUSTER] [--cluster CLUSTER] [--confirm APP] [--json]',
  args: { values: ['from', 'to', 'cluster', 'confirm'], booleans: ['json'], positionals: [1, 1] },
  need: 'deploy',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const app = await existingApp(ctx, 'db:copy', args.positionals[0]!);
    const from = parseEnd('--from', args.values.from);
    const to = parseEnd('--to', args.values.to);
    from.cluster ??= args.values.cluster;
    to.cluster ??= args.values.cluster;
    const config = await ctx.config();
    const source = (await appEnvironment(ctx, app, from.env)).environment;
    const target = (await appEnvironment(ctx, app, to.env)).environment;
    const targetClusters = to.cluster ? [to.cluster] : target.clusters;
    const pairs = targetClusters.map((cluster) => ({ to: cluster, from: from.cluster ?? (source.clusters.includes(cluster) ? cluster : source.clusters[0]!) }));
    if (source.name === target.name && pairs.some((p) => p.from === p.to)) throw new UsageError(`db:copy: the source and the target are the same database (${app} ${source.name}@${pairs.find((p) => p.from === p.to)!.to}); nothing copied`);
    if (target.name === 'production' || target.branch === config.gateway.defaultBranch) {
      await confirmApp(ctx, 'db:copy', app, args.values.confirm, `replace its ${target.name} database with ${source.name}'s`, 'nothing copied');
    } else if (args.values.confirm !== undefined && args.values.confirm !== app) {
      throw new UsageError(`db:copy: --confirm ${JSON.stringify(args.values.confirm)} is not the app's name (${app}); nothing copied`);
    }
    // Every end resolved (and reachable) before anything is changed.
    const opened: DatabaseTarget[] = [];
    const open = async (env: string, cluster: string): Promise<DatabaseTarget> => {
      const found = opened.find((t) => t.env === env && t.cluster.name === cluster);
      if (found) return found;
      const t = await databaseTarget(ctx, 'db:copy', `${app}@${cluster}`, env);
      opened.push(t);
      return t;
    };
    const started = Date.now();
    try {
      const ends = [];
      for (const pair of pairs) ends.push({ from: await open(source.name, pair.from), to: await open(target.name, pair.to) });
      const keep = config.gateway.backups.keep;
      const done: Copied['to'] = [];
      for (const end of ends) {
        const { backup } = await captureBackup(end.to.session, end.to.host.name, end.to, end.to.credentials.name, keep).catch((e: unknown) => {
          throw new MagratheaError(`db:copy: backing up ${target.name}@${end.to.cluster.name} first failed: ${(e as Error).message}; nothing copied there${done.length > 0 ? ` (copied: ${done.map((d) => d.cluster).join(', ')})` : ''}`, 'copy-failed');
        });
        ctx.io.stderr.write(`${target.name}@${end.to.cluster.name}: backed up as ${backup.id} (db:backups:restore ${app}@${end.to.cluster.name} ${backup.id} --env ${target.name} undoes the copy)\n`);
        await copyDatabase(
          { session: end.from.session, host: end.from.host.name, name: end.from.credentials.name },
          { session: end.to.session, host: end.to.host.name, name: end.to.credentials.name },
        );
        done.push({ env: target.name, cluster: end.to.cluster.name, from: end.from.cluster.name, backup: backup.id });
      }
      return { app, from: source.name, to: done, seconds: (Date.now() - started) / 1000 };
    } finally {
      for (const t of opened) await t.close();
    }
  },
  text: (r) => r.to.map((t) => `${r.app}: ${r.from}@${t.from} copied into ${t.env}@${t.cluster} (its database before: backup ${t.backup})\n`).join(''),
});
