import { describe, expect, it } from '@jest/globals';
import { databaseClients, databaseCredentials, databaseName, panelSafeName, databaseEnv, dropSql, provisionSql, sqlIdentifier, sqlString, staleUsersSql } from './database.js';
import { DEFAULT_DATABASE_VARS } from './manifest/types.js';

const shop = { app: 'shop', env: 'production' };
const creds = databaseCredentials(shop, { db: { address: '10.0.0.5', port: 3306 } }, 'pw-With_chars');

describe('database', () => {
  it('names them in the ISPConfig panel\'s alphabet on its clusters: no dash, at most 32 characters, one per instance', () => {
    const panel = { ispconfig: {} as never };
    expect(databaseName(shop, panel)).toBe('m_shop_production');
    expect(databaseName({ app: 'dbc-shop', env: 'production' }, {})).toBe('m_dbc-shop_production');
    const named = databaseName({ app: 'dbc-shop', env: 'production' }, panel);
    expect(named).toMatch(/^m_dbc_shop_production_[0-9a-f]{8}$/);
    // `_` also separates app and env: a-b in c and a in b-c stay apart.
    expect(databaseName({ app: 'a-b', env: 'c' }, panel)).not.toBe(databaseName({ app: 'a', env: 'b-c' }, panel));
    for (const i of [{ app: 'a'.repeat(40), env: 'e-'.repeat(19) + 'e' }, { app: 'x-y', env: 'production' }]) expect(databaseName(i, panel)).toMatch(/^[A-Za-z0-9_]{2,32}$/);
    expect(panelSafeName('m_ok_name')).toBe('m_ok_name');
  });

  it('names the database and its user like the instance\'s unix user: at most 32 characters, one per instance', () => {
    expect(creds).toMatchObject({ name: 'm_shop_production', user: 'm_shop_production', host: '10.0.0.5', port: 3306 });
    const long = databaseCredentials({ app: 'a'.repeat(40), env: 'e'.repeat(40) }, { db: { address: 'x', port: 1 } }, 'p');
    expect(long.user.length).toBeLessThanOrEqual(32);
    expect(long.user).not.toBe(databaseCredentials({ app: 'a'.repeat(40), env: 'e'.repeat(39) }, { db: { address: 'x', port: 1 } }, 'p').user);
  });

  it('gives the app each value under the name its manifest chose', () => {
    const env = databaseEnv({ engine: 'mysql', vars: { ...DEFAULT_DATABASE_VARS, name: 'DB_NAME' } }, creds);
    expect(env).toEqual({
      DATABASE_URL: 'mysql://m_shop_production:pw-With_chars@10.0.0.5:3306/m_shop_production',
      DB_HOST: '10.0.0.5',
      DB_PORT: '3306',
      DB_NAME: 'm_shop_production',
      DB_USERNAME: 'm_shop_production',
      DB_PASSWORD: 'pw-With_chars',
    });
  });

  it('creates the database, the user at each web host and its grants, idempotently; drops users at addresses no longer listed', () => {
    expect(provisionSql(creds, ['10.0.0.1'])).toBe(
      [
        'CREATE DATABASE IF NOT EXISTS `m_shop_production` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;',
        "CREATE USER IF NOT EXISTS 'm_shop_production'@'10.0.0.1' IDENTIFIED BY 'pw-With_chars';",
        "ALTER USER 'm_shop_production'@'10.0.0.1' IDENTIFIED BY 'pw-With_chars';",
        "GRANT ALL PRIVILEGES ON `m_shop_production`.* TO 'm_shop_production'@'10.0.0.1';",
        '',
      ].join('\n'),
    );
    expect(staleUsersSql('u', ['10.0.0.1', '10.0.0.9'], ['10.0.0.1'])).toBe("DROP USER IF EXISTS 'u'@'10.0.0.9';\n");
    expect(dropSql(creds, ['10.0.0.1'])).toBe("DROP DATABASE IF EXISTS `m_shop_production`;\nDROP USER IF EXISTS 'm_shop_production'@'10.0.0.1';\n");
  });

  it('quotes strings and refuses what is not an identifier Magrathea makes', () => {
    expect(sqlString("a'b\\c")).toBe("'a''b\\\\c'");
    expect(() => sqlString('a\nb')).toThrow();
    expect(() => sqlIdentifier('a`; DROP DATABASE x; --')).toThrow();
  });

  it('lets the user in from each web host\'s egress (else its address) and from the db host\'s own, once each', () => {
    const host = (name: string, address: string, roles: ('web' | 'db' | 'cache')[], egress?: string) => ({ name, address, roles, ssh: { user: 'root', port: 22 }, ...(egress ? { egress } : {}) });
    const db = { host: 'db-1', address: '10.0.0.9', port: 3306 };
    expect(databaseClients({ hosts: [host('w1', '10.0.0.1', ['web']), host('w2', '10.0.0.2', ['web'], '192.0.2.1'), host('db-1', '10.0.0.9', ['db', 'cache'])], db })).toEqual(['10.0.0.1', '192.0.2.1', '10.0.0.9']);
    // The lab: every host's connections come from 127.0.0.1.
    expect(databaseClients({ hosts: [host('w1', '127.0.1.1', ['web'], '127.0.0.1'), host('e', '127.0.1.3', ['db'], '127.0.0.1')], db: { ...db, host: 'e' } })).toEqual(['127.0.0.1']);
    expect(databaseClients({ hosts: [host('w1', '10.0.0.1', ['web'])], db: undefined })).toEqual(['10.0.0.1']);
  });
});
