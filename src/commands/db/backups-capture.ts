import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { formatBytes } from '../../core/accounting/usage.js';
import type { BackupEntry } from '../../core/database-backups.js';
import { captureBackup } from '../../deployer/database-backups.js';
import { databaseTarget } from './target.js';

interface Captured {
  app: string;
  env: string;
  cluster: string;
  host: string;
  backup: BackupEntry;
  /** Older backups removed beyond backups.keep. */
  pruned: string[];
  keep: number;
}

/** `db:backups:capture APP@CLUSTER`: a consistent dump of the instance's database, kept on the cluster's db host. */
export default defineCommand<Captured>({
  name: 'db:backups:capture',
  summary: "back up an instance's database now, on its cluster's db host (the oldest beyond backups.keep are removed)",
  usage: 'APP@CLUSTER [--env ENV] [--json]',
  args: { values: ['env'], booleans: ['json'], positionals: [1, 1] },
  need: 'deploy',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const target = await databaseTarget(ctx, 'db:backups:capture', args.positionals[0]!, args.values.env);
    try {
      const keep = (await ctx.config()).gateway.backups.keep;
      const { backup, pruned } = await captureBackup(target.session, target.host.name, target, target.credentials.name, keep);
      return { app: target.app, env: target.env, cluster: target.cluster.name, host: target.host.name, backup, pruned: pruned.map((b) => b.id), keep };
    } finally {
      await target.close();
    }
  },
  text: (r) =>
    `${r.app}@${r.cluster} (${r.env}): backup ${r.backup.id} captured on ${r.host}, ${formatBytes(r.backup.bytes)}` +
    `${r.pruned.length > 0 ? `; ${r.pruned.length} older removed (backups.keep: ${r.keep})` : ''}\n`,
});
