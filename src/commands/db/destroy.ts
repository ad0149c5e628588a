import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { listBackups } from '../../deployer/database-backups.js';
import { forgetInstancePassword } from '../../state/instance-passwords.js';
import { confirmApp } from './confirm.js';
import { databaseTarget } from './target.js';

interface Destroyed {
  app: string;
  env: string;
  cluster: string;
  host: string;
  database: string;
  existed: boolean;
  backups: number;
}

/**
 * `db:destroy APP@CLUSTER --confirm APP`: the instance's database and its
 * user dropped on the cluster's db host, its password forgotten. Its
 * backups stay (db:backups:restore after a deploy made it again); the
 * next deploy makes it again, empty, with a new password.
 */
export default defineCommand<Destroyed>({
  name: 'db:destroy',
  summary: "drop an instance's database and user on its cluster's db host (backups kept; a deploy makes it again, empty) (admins; asks for the app name)",
  usage: 'APP@CLUSTER [--env ENV] [--confirm APP] [--json]',
  args: { values: ['env', 'confirm'], booleans: ['json'], positionals: [1, 1] },
  need: 'admin',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const target = await databaseTarget(ctx, 'db:destroy', args.positionals[0]!, args.values.env);
    try {
      await confirmApp(ctx, 'db:destroy', target.app, args.values.confirm, `drop its ${target.env} database on ${target.cluster.name}`, 'nothing dropped');
      const existed = (await target.provider.drop(target.credentials)).database;
      await forgetInstancePassword((await ctx.gateway()).state, 'database', target, target.cluster.name);
      const backups = (await listBackups(target.session, target)).length;
      return { app: target.app, env: target.env, cluster: target.cluster.name, host: target.host.name, database: target.credentials.name, existed, backups };
    } finally {
      await target.close();
    }
  },
  text: (r) =>
    `${r.app}@${r.cluster} (${r.env}): ${r.existed ? `database ${r.database} dropped` : `no database ${r.database} was there`} on ${r.host}, with its user; its password is forgotten` +
    ` (the next deploy makes it again, empty, with a new one)${r.backups > 0 ? `; its ${r.backups} backup(s) are kept (db:backups:list)` : ''}\n`,
});
