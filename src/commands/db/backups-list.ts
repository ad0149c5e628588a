import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { formatBytes } from '../../core/accounting/usage.js';
import type { BackupEntry } from '../../core/database-backups.js';
import { formatTable } from '../../core/table.js';
import { listBackups } from '../../deployer/database-backups.js';
import { databaseTarget } from './target.js';

interface Listed {
  app: string;
  env: string;
  cluster: string;
  host: string;
  backups: BackupEntry[];
}

/** `db:backups:list APP@CLUSTER`: the instance's backups on the cluster's db host, oldest first. */
export default defineCommand<Listed>({
  name: 'db:backups:list',
  summary: "an instance's database backups on its cluster's db host: id, time, size",
  usage: 'APP@CLUSTER [--env ENV] [--json]',
  args: { values: ['env'], booleans: ['json'], positionals: [1, 1] },
  need: 'read',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const target = await databaseTarget(ctx, 'db:backups:list', args.positionals[0]!, args.values.env);
    try {
      return { app: target.app, env: target.env, cluster: target.cluster.name, host: target.host.name, backups: await listBackups(target.session, target) };
    } finally {
      await target.close();
    }
  },
  text: (r) =>
    r.backups.length === 0
      ? `${r.app}@${r.cluster} (${r.env}): no backups on ${r.host} (db:backups:capture makes one)\n`
      : formatTable([['ID', 'TIME', 'SIZE'], ...r.backups.map((b) => [b.id, b.time, formatBytes(b.bytes)])]),
});
