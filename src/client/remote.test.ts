import { describe, expect, it } from '@jest/globals';
import { checkGatewayUrl, withApp } from './remote.js';

describe('withApp', () => {
  const releases = { name: 'releases', app: true };
  const backups = { name: 'db:backups capture', app: true };
  it('puts the repository\'s app where the command takes one and none is named', () => {
    expect(withApp(releases, ['releases', '--json'], 'shop')).toEqual(['releases', 'shop', '--json']);
    expect(withApp({ name: 'config:set', app: true }, ['config:set', 'A=1'], 'shop')).toEqual(['config:set', 'shop', 'A=1']);
    expect(withApp(releases, ['releases', 'shop', '--json'], 'shop')).toEqual(['releases', 'shop', '--json']);
    expect(withApp({ name: 'logs', app: true }, ['logs', 'shop@cluster-b', '-f'], 'shop')).toEqual(['logs', 'shop@cluster-b', '-f']);
    expect(withApp({ name: 'logs', app: true }, ['logs', '@cluster-b', '-f'], 'shop')).toEqual(['logs', 'shop@cluster-b', '-f']);
    expect(withApp(backups, ['db:backups', 'capture'], 'shop')).toEqual(['db:backups', 'capture', 'shop']);
  });

  it('takes -a / --app out and uses it instead; leaves commands without an app, and a repository without one, alone', () => {
    expect(withApp(releases, ['releases', '-a', 'blog', '--json'], 'shop')).toEqual(['releases', 'blog', '--json']);
    expect(withApp(releases, ['releases', '--app', 'blog'], undefined)).toEqual(['releases', 'blog']);
    expect(withApp({ name: 'apps:list' }, ['apps:list'], 'shop')).toEqual(['apps:list']);
    expect(withApp(releases, ['releases'], undefined)).toEqual(['releases']);
  });
});

describe('checkGatewayUrl', () => {
  it('keeps the origin of an http(s) URL; refuses paths, credentials and other schemes by name', () => {
    expect(checkGatewayUrl('https://magrathea.example.com/')).toBe('https://magrathea.example.com');
    expect(checkGatewayUrl('http://127.0.0.1:5000')).toBe('http://127.0.0.1:5000');
    expect(checkGatewayUrl('https://u:p@magrathea.example.com')).toMatchObject({ error: expect.stringMatching(/no path or credentials/) });
    expect(checkGatewayUrl('https://magrathea.example.com/v1')).toMatchObject({ error: expect.stringMatching(/no path or credentials/) });
    expect(checkGatewayUrl('ftp://magrathea.example.com')).toMatchObject({ error: expect.stringMatching(/over https/) });
    // The token would cross the network in clear.
    expect(checkGatewayUrl('http://magrathea.example.com')).toEqual({ error: 'http://magrathea.example.com: the gateway is reached over https (or http on this machine)' });
    expect(checkGatewayUrl('http://localhost:5000')).toBe('http://localhost:5000');
    expect(checkGatewayUrl('magrathea')).toEqual({ error: '"magrathea" is not a URL (https://magrathea.example.com)' });
  });
});
