import { formatBytes } from '../../core/accounting/usage.js';
import { MagratheaError } from '../../core/errors.js';
import { formatTable } from '../../core/table.js';
import { defineCommand, EVERYWHERE } from '../../dispatch/command.js';
import { appEnvironment, existingTarget } from '../targets.js';
import { databaseTarget } from './target.js';

interface DatabaseInfo {
  cluster: string;
  /** The db host's name in clusters.yml. */
  host: string;
  address: string;
  port: number;
  name: string;
  user: string;
  /** `********` unless --reveal. The one that works now: after db:rotate, the one before until the next deploy. */
  password: string;
  /** db:rotate made a new password that the next deploy sets. */
  rotated: boolean;
  exists: boolean;
  /** Data and indexes (information_schema); 0 for a database that does not exist yet. */
  bytes: number;
}

interface Info {
  app: string;
  env: string;
  databases: DatabaseInfo[];
}

const MASK = '********';

/**
 * `db:info APP[@CLUSTER]`: each cluster's database of the app's
 * environment (one cluster with @CLUSTER), as the app reaches it, and
 * whether a deploy made it yet. The password with --reveal only, which
 * needs the `config` verb (the one config:show --reveal needs: it shows
 * secrets); the rest needs `read`.
 */
export default defineCommand<Info>({
  name: 'db:info',
  summary: 'the app\'s database on each cluster: db host, address, name, user, size (the password with --reveal)',
  usage: 'APP[@CLUSTER] [--env ENV] [--reveal] [--json]',
  args: { values: ['env'], booleans: ['reveal', 'json'], positionals: [1, 1] },
  need: 'read',
  surfaces: EVERYWHERE,
  app: true,
  async run(args, ctx) {
    const text = args.positionals[0]!;
    const { app, cluster } = await existingTarget(ctx, 'db:info', text);
    const reveal = args.flags.has('reveal');
    if (reveal && !ctx.may('config', app)) {
      throw new MagratheaError(`db:info: --reveal shows ${app}'s database passwords: it needs the config verb on ${app} (users.yml), which ${ctx.user.name} does not have; without --reveal, db:info needs read only`, 'forbidden');
    }
    const { environment } = await appEnvironment(ctx, app, args.values.env);
    const clusters = cluster === undefined ? environment.clusters : [cluster];
    const databases: DatabaseInfo[] = [];
    for (const name of clusters) {
      const target = await databaseTarget(ctx, 'db:info', `${app}@${name}`, environment.name);
      try {
        const { credentials: c } = target;
        const exists = await target.provider.exists(c.name);
        const bytes = exists ? ((await target.provider.sizes([c.name]))[c.name] ?? 0) : 0;
        databases.push({ cluster: name, host: target.host.name, address: c.host, port: c.port, name: c.name, user: c.user, password: reveal ? c.password : MASK, rotated: target.rotated, exists, bytes });
      } finally {
        await target.close();
      }
    }
    return { app, env: environment.name, databases };
  },
  text: (info) => {
    const rows = [['CLUSTER', 'DB HOST', 'ADDRESS', 'DATABASE', 'USER', 'PASSWORD', 'SIZE', 'STATE']];
    for (const d of info.databases) rows.push([d.cluster, d.host, `${d.address}:${d.port}`, d.name, d.user, d.password, d.exists ? formatBytes(d.bytes) : '-', d.exists ? (d.rotated ? 'ok; new password set by the next deploy' : 'ok') : 'not made yet: deploy first']);
    return `databases of ${info.app} (${info.env}):\n${formatTable(rows, [6])}`;
  },
});
