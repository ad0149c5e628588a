import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { isBackupId } from '../../core/database-backups.js';
import { MagratheaError, UsageError } from '../../core/errors.js';
import { listBackups, restoreBackup } from '../../deployer/database-backups.js';
import { confirmApp } from './confirm.js';
import { databaseTarget } from './target.js';

interface Restored {
  app: string;
  env: string;
  cluster: string;
  host: string;
  backup: string;
  seconds: number;
}

/**
 * `db:backups:restore APP@CLUSTER BACKUP_ID --confirm APP`: the instance's
 * database replaced by the backup's content (dropped and made again as
 * root, its user's grants kept, then loaded).
 */
export default defineCommand<Restored>({
  name: 'db:backups:restore',
  summary: "replace an instance's database with one of its backups (asks for the app name)",
  usage: 'APP@CLUSTER BACKUP_ID [--env ENV] [--confirm APP] [--json]',
  args: { values: ['env', 'confirm'], booleans: ['json'], positionals: [2, 2] },
  need: 'rollback',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const id = args.positionals[1]!;
    if (!isBackupId(id)) throw new UsageError(`db:backups:restore: ${JSON.stringify(id)} is not a backup id (like 20250102T030405.678Z: db:backups:list shows them)`);
    const target = await databaseTarget(ctx, 'db:backups:restore', args.positionals[0]!, args.values.env);
    try {
      const where = `${target.app}@${target.cluster.name} (${target.env})`;
      if (!(await listBackups(target.session, target)).some((b) => b.id === id)) {
        throw new MagratheaError(`db:backups:restore: no backup ${id} of ${where} on ${target.host.name}; nothing restored (db:backups:list shows them)`, 'unknown-backup');
      }
      await confirmApp(ctx, 'db:backups:restore', target.app, args.values.confirm, `replace its ${target.env} database on ${target.cluster.name} with backup ${id}`, 'nothing restored');
      const started = Date.now();
      await restoreBackup(target.session, target.host.name, target, target.credentials.name, id);
      return { app: target.app, env: target.env, cluster: target.cluster.name, host: target.host.name, backup: id, seconds: (Date.now() - started) / 1000 };
    } finally {
      await target.close();
    }
  },
  text: (r) => `${r.app}@${r.cluster} (${r.env}): database restored from backup ${r.backup} on ${r.host} in ${r.seconds.toFixed(1)} s\n`,
});
