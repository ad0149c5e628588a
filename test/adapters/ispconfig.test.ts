import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PanelClient, PanelError } from '../../src/adapters/ispconfig.js';
import type { LabStatus } from '../../src/lab/status.js';
import { startPanel, type TestPanel } from '../helpers/ispconfig.js';
import { sshRun, useLab } from '../helpers/lab.js';

/**
 * The panel's remote JSON API through Magrathea's client, against the real
 * ISPConfig (test/helpers/ispconfig.ts): a database and its user recorded
 * by the API and made on the cluster's db host by the panel's job runner;
 * the panel's refusals as one line naming the cluster and the call.
 */
let lab: LabStatus;
let panel: TestPanel | undefined;
const DB = 'm_ispc_adapter';

const client = (user = 'magrathea', password = 'right-password') => new PanelClient('cluster-a', { url: panel!.url, user, password });
const dbHost = () => lab.hosts.find((h) => h.cluster === 'cluster-a' && h.roles.includes('db'))!;
const onDbHost = async (sql: string) => (await sshRun(lab, dbHost().name, ['mariadb', '-N', '-B', '-e', sql])).stdout;

beforeAll(async () => {
  lab = await useLab();
  panel = await startPanel({
    lab,
    cluster: 'cluster-a',
    name: 'adapter',
    users: [
      { username: 'magrathea', password: 'right-password', functions: 'all' },
      { username: 'dns-only', password: 'dns-password', functions: ['Client functions'] },
    ],
  });
  process.stdout.write(`ISPConfig panel up in ${panel.seconds.toFixed(1)} s\n`);
}, 180_000);

afterAll(async () => {
  if (lab) await onDbHost(`DROP DATABASE IF EXISTS ${DB}; DROP USER IF EXISTS '${DB}'@'127.0.0.1';`).catch(() => undefined);
  await panel?.stop();
}, 60_000);

describe('the ISPConfig remote API', () => {
  it('records a database and its user, which the job runner makes on the db host, and deletes them', async () => {
    const api = client();
    try {
      const user = await api.call<number>('sites_database_user_add', { client_id: 0, params: { server_id: panel!.serverId, database_user: DB, database_password: 's3cret-pw' } });
      const id = await api.call<number>('sites_database_add', {
        client_id: 0,
        params: { server_id: panel!.serverId, parent_domain_id: 0, type: 'mysql', database_name: DB, database_user_id: user, database_charset: 'utf8mb4', remote_access: 'y', remote_ips: '127.0.0.1', active: 'y' },
      });
      expect(Number(id)).toBeGreaterThan(0);
      expect(await panel!.sql(`SELECT database_name FROM web_database WHERE database_id = ${Number(id)}`)).toBe(`${DB}\n`);
      const started = Date.now();
      await panel!.runJobs();
      process.stdout.write(`job runner: ${((Date.now() - started) / 1000).toFixed(2)} s\n`);
      expect(await onDbHost(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB}'`)).toBe(`${DB}\n`);
      const login = await sshRun(lab, dbHost().name, ['mariadb', '-h', dbHost().address, '-u', DB, '--password=s3cret-pw', '-N', '-e', 'SELECT 1', DB], { reject: false });
      expect(login.stdout).toBe('1\n');

      await api.call('sites_database_delete', { primary_id: id });
      await api.call('sites_database_user_delete', { primary_id: user });
      await panel!.runJobs();
      expect(await onDbHost(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${DB}'`)).toBe('');
    } finally {
      await api.logout();
    }
  }, 120_000);

  it('names the cluster, the call and permission_denied when the remote user lacks the function group', async () => {
    const api = client('dns-only', 'dns-password');
    const error = await api.call('sites_database_get', { primary_id: { database_name: DB } }).catch((e: unknown) => e);
    await api.logout();
    expect(error).toBeInstanceOf(PanelError);
    expect((error as PanelError).message).toMatch(/^cluster-a: ISPConfig sites_database_get: permission_denied: /);
    expect((error as Error).message).not.toContain('\n');
  });

  it('reports a wrong password as login_failed, without retrying', async () => {
    const before = await panel!.sql('SELECT COALESCE(SUM(times), 0) FROM attempts_login');
    const error = await client('magrathea', 'wrong').call('server_get', { server_id: 1 }).catch((e: unknown) => e);
    expect((error as PanelError).fault).toBe('login_failed');
    expect((error as Error).message).toMatch(/^cluster-a: ISPConfig login: login_failed: .*not retried/);
    expect(Number(await panel!.sql('SELECT COALESCE(SUM(times), 0) FROM attempts_login'))).toBe(Number(before) + 1);
  });
});
