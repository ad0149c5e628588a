import { describe, expect, it } from '@jest/globals';
import { routeRequest } from './routes.js';

const get = (path: string) => routeRequest('GET', new URL(path, 'http://api.invalid'), undefined);

describe('the routes of deploys', () => {
  it('lists an app\'s deploys, follows one streamed, and shows its databases without ever revealing', () => {
    expect(get('/v1/apps/shop/deploys')).toEqual({ commands: [['deploys', 'shop', '--json']], json: true, stream: false, app: 'shop' });
    expect(get('/v1/apps/shop/deploys?env=staging')).toEqual({ commands: [['deploys', 'shop', '--env', 'staging', '--json']], json: true, stream: false, app: 'shop' });
    // The job is checked to be the app's before the stream starts, so that a refusal has its status (404).
    expect(get('/v1/apps/shop/deploys/42')).toEqual({ commands: [['deploys:follow', 'shop', '42']], check: [['deploys', 'shop', '--job', '42', '--json']], json: false, stream: true, app: 'shop' });
    expect(get('/v1/apps/shop/db?reveal=1')).toEqual({ commands: [['db:info', 'shop', '--json']], json: true, stream: false, app: 'shop' });
  });

  it('hands an odd job id to its command as one argument, decoded, for the command to refuse', () => {
    expect(get('/v1/apps/shop/deploys/1%3Bls%20-la')).toMatchObject({ commands: [['deploys:follow', 'shop', '1;ls -la']] });
    expect(get('/v1/apps/shop/deploys/..%2F..%2Fx')).toMatchObject({ commands: [['deploys:follow', 'shop', '../../x']] });
    expect(get('/v1/apps/shop/deploys/%E0%A4%A')).toEqual({ status: 400, error: '/v1/apps/shop/deploys/%E0%A4%A: a path segment is not valid percent-encoding' });
    // A segment more, or none: no such endpoint.
    expect(get('/v1/apps/shop/deploys/1/2')).toMatchObject({ status: 404 });
    expect(get('/v1/apps/shop/deploys/')).toMatchObject({ status: 404 });
    expect(routeRequest('POST', new URL('http://api.invalid/v1/apps/shop/deploys/1'), undefined)).toMatchObject({ status: 405 });
  });
});
