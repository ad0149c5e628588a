import { setTimeout as sleep } from 'node:timers/promises';
import { PanelClient, PanelError } from '../adapters/ispconfig.js';
import type { HostSession } from '../adapters/ssh.js';
import type { ClusterConfig, IspconfigConfig } from '../core/config/types.js';
import { databaseHost, type DatabaseCredentials } from '../core/database.js';
import { MagratheaError } from '../core/errors.js';
import type { PanelIdStore } from '../state/panel-ids.js';
import type { DatabaseProvider, Dropped } from './database-provider.js';

type Row = Record<string, string | number | null>;

/**
 * Checks that `user` logs in with `password` over TCP at the server's
 * address, from the db host, as the web hosts do. The password reaches the
 * client in an option file read once and removed at once (stdin's first
 * line): it is on no command line.
 */
const LOGIN_PROBE = `
user=$1 host=$2 port=$3 db=$4
IFS= read -r pw || exit 2
umask 077
cnf=$(mktemp) || exit 2
printf '[client]\\nuser=%s\\npassword=%s\\n' "$user" "$pw" > "$cnf" || { rm -f "$cnf"; exit 2; }
pw=
exec 3<"$cnf"
rm -f "$cnf"
exec mariadb --defaults-extra-file=/dev/fd/3 --protocol=TCP --connect-timeout=5 -h "$host" -P "$port" -N -B -e 'SELECT 1' "$db"
`;

export interface PanelProviderOptions {
  ids?: PanelIdStore;
  /** Progress lines (a deploy's log). */
  log?: (line: string) => void;
  /** Milliseconds between two login checks while waiting. Default 1000. */
  pollMs?: number;
}

/**
 * The databases of a cluster its ISPConfig panel manages: made, changed
 * and deleted through the panel's remote API, so the panel's admins see,
 * limit and back them up; the panel applies each change from its job
 * queue (a cron, every minute), so each change waits until the db host
 * shows it. Sizes come from the panel where it measured them, else from
 * the db host. One login per provider, ended by close().
 */
export function panelDatabaseProvider(cluster: Pick<ClusterConfig, 'name' | 'hosts' | 'db'> & { ispconfig: IspconfigConfig }, session: HostSession, direct: Pick<DatabaseProvider, 'exists' | 'sizes'>, options: PanelProviderOptions = {}): DatabaseProvider {
  const panel = cluster.ispconfig;
  const api = PanelClient.of(cluster);
  const host = databaseHost(cluster);
  const log = options.log ?? (() => undefined);
  let clientId: Promise<number> | undefined;
  let serverId: Promise<number> | undefined;

  const client = (): Promise<number> =>
    (clientId ??= (async () => {
      if (/^[0-9]+$/.test(panel.client)) return Number(panel.client);
      const user = await api.call<Row | false>('client_get_by_username', { username: panel.client });
      if (!user || user.client_id === null || user.client_id === undefined) throw new PanelError(cluster.name, 'client_get_by_username', 'no_client_found', `no client ${JSON.stringify(panel.client)} in the panel (clusters.yml ${cluster.name}.ispconfig.client)`);
      return Number(user.client_id);
    })());

  const server = (): Promise<number> =>
    (serverId ??= (async () => {
      if (panel.serverId !== undefined) return panel.serverId;
      const found = await api.call<Row | false | null>('server_get_serverid_by_ip', { ipaddress: host.address });
      if (!found || !found.server_id) throw new PanelError(cluster.name, 'server_get_serverid_by_ip', 'no_server', `no server of the panel has the IP ${host.address} of the db host ${host.name}: set ${cluster.name}.ispconfig.server_id in clusters.yml`);
      return Number(found.server_id);
    })());

  /** The panel's database and user records of `name`: by the ids kept, checked, else by name. */
  async function find(name: string): Promise<{ database?: Row; user?: Row }> {
    const kept = await options.ids?.get(name);
    const byId = async (method: string, id: number | undefined, field: string): Promise<Row | undefined> => {
      if (!id) return undefined;
      const row = await api.call<Row | false | []>(method, { primary_id: id });
      return row && !Array.isArray(row) && row[field] === name ? row : undefined;
    };
    const byName = async (method: string, filter: Record<string, string | number>): Promise<Row | undefined> => {
      const rows = await api.call<Row[] | false>(method, { primary_id: filter });
      return Array.isArray(rows) ? rows[0] : undefined;
    };
    const sid = await server();
    const database = (await byId('sites_database_get', kept?.database, 'database_name')) ?? (await byName('sites_database_get', { database_name: name, server_id: sid }));
    const user = (await byId('sites_database_user_get', kept?.user, 'database_user')) ?? (await byName('sites_database_user_get', { database_user: name }));
    return { database, user };
  }

  async function logsIn(c: DatabaseCredentials): Promise<boolean> {
    const result = await session.exec(['sh', '-c', LOGIN_PROBE, 'magrathea-db', c.user, c.host, String(c.port), c.name], { input: `${c.password}\n`, reject: false, timeout: 30_000 });
    return result.exitCode === 0 && result.stdout.trim() === '1';
  }

  async function exists(name: string): Promise<boolean> {
    return direct.exists(name);
  }

  /** Polls `done` until it holds, at most the cluster's wait; the error says the panel applies its queue from its cron. */
  async function waitUntil(what: string, done: () => Promise<boolean>, recorded: string): Promise<void> {
    const deadline = Date.now() + panel.waitSeconds * 1000;
    let said = false;
    for (;;) {
      if (await done()) return;
      if (Date.now() > deadline) {
        throw new MagratheaError(
          `${cluster.name}: ISPConfig: ${recorded}, but ${what} after ${panel.waitSeconds} s: the panel applies its job queue from its cron (server.php, every minute) on server ${await server()}; check that it runs (clusters.yml ${cluster.name}.ispconfig.wait sets how long to wait)`,
          'ispconfig-timeout',
          1,
          true,
        );
      }
      if (!said) log(`${cluster.name}: waiting for the panel's job queue (its cron applies it within a minute): ${what.replace(/^not yet /, '')}`);
      said = true;
      await sleep(options.pollMs ?? 1000);
    }
  }

  return {
    async ensure(c, clients) {
      const remote = { remote_access: 'y', remote_ips: clients.join(',') };
      const [cid, sid] = [await client(), await server()];
      let { database, user } = await find(c.name);
      let changed = false;
      if (!user) {
        const id = await api.call<number>('sites_database_user_add', { client_id: cid, params: { server_id: sid, database_user: c.user, database_password: c.password } });
        user = { database_user_id: Number(id), database_user: c.user };
        changed = true;
      }
      if (!database) {
        const id = await api.call<number>('sites_database_add', {
          client_id: cid,
          params: { server_id: sid, parent_domain_id: 0, type: 'mysql', database_name: c.name, database_user_id: Number(user.database_user_id), database_ro_user_id: 0, database_charset: 'utf8mb4', database_quota: -1, backup_interval: 'none', backup_copies: 1, active: 'y', ...remote },
        });
        database = { database_id: Number(id), database_name: c.name, ...remote };
        changed = true;
      } else if (database.remote_access !== 'y' || String(database.remote_ips ?? '') !== remote.remote_ips || database.active !== 'y' || Number(database.database_user_id) !== Number(user.database_user_id)) {
        await api.call('sites_database_update', { client_id: cid, primary_id: Number(database.database_id), params: { ...database, ...remote, active: 'y', database_user_id: Number(user.database_user_id) } });
        changed = true;
      }
      const ids = { database: Number(database.database_id), user: Number(user.database_user_id) };
      await options.ids?.set(c.name, ids);
      // The panel keeps only a hash: a password kept on the gateway that does not log in (db:rotate made a new one) is given to the panel again.
      if (!changed && !(await logsIn(c))) {
        await api.call('sites_database_user_update', { client_id: cid, primary_id: ids.user, params: { database_user: c.user, database_password: c.password } });
      }
      await waitUntil(`not yet ${c.user} logging in to ${c.name} at ${c.host}:${c.port}`, () => logsIn(c), `database ${c.name} recorded (web_database id ${ids.database}, web_database_user id ${ids.user})`);
    },

    exists,

    async drop(c): Promise<Dropped> {
      const { database, user } = await find(c.name);
      const had: Dropped = { database: await exists(c.name), user: user !== undefined };
      if (database) await api.call('sites_database_delete', { primary_id: Number(database.database_id) });
      if (user) await api.call('sites_database_user_delete', { primary_id: Number(user.database_user_id) });
      await options.ids?.delete(c.name);
      if (database) await waitUntil(`not yet dropped database ${c.name} from ${host.name}`, async () => !(await exists(c.name)), `database ${c.name} deleted from the panel (web_database id ${Number(database.database_id)})`);
      return { database: had.database || database !== undefined, user: had.user };
    },

    async sizes(names) {
      const rows = await api.call<Row[] | false>('databasequota_get_by_user', { client_id: await client() }).catch((e: unknown) => {
        // Without the Quota functions the panel cannot say: the db host is asked.
        if (e instanceof PanelError && e.fault === 'permission_denied') return false as const;
        throw e;
      });
      const fromPanel: Record<string, number> = {};
      for (const row of Array.isArray(rows) ? rows : []) {
        const used = Number(row.used_raw);
        // The panel reports 0 for a database its monitor has not measured yet: only a measured size is taken.
        if (names.includes(String(row.database_name)) && used > 0) fromPanel[String(row.database_name)] = used;
      }
      const missing = names.filter((n) => fromPanel[n] === undefined);
      return { ...(missing.length > 0 ? await direct.sizes(missing) : {}), ...fromPanel };
    },

    close: () => api.logout(),
  };
}
