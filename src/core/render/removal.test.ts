import { describe, expect, it } from '@jest/globals';
import type { ClusterConfig } from '../config/types.js';
import type { InstanceConfig } from '../manifest/types.js';
import { testCluster, testInstance } from './test-fixtures.js';
import { planRemoval } from './removal.js';

const CLUSTERS = `c1:
  hosts:
    web-1: { address: 192.0.2.11, roles: [web] }
    web-2: { address: 192.0.2.12, roles: [web] }
    edge: { address: 192.0.2.10, roles: [cache, balancer] }
`;

const cluster = (): ClusterConfig => testCluster(CLUSTERS);

function instance(app: string, php: string): InstanceConfig {
  return testInstance(app, `stack: { php: "${php}" }\ndomains: ["${app}.example.com"]\nenvironments:\n  production: { branch: master, clusters: [c1] }\n`);
}

describe('planRemoval', () => {
  it("deletes the instance's own files, rewrites the shared ones, and names each service to check once, FPM by PHP version", () => {
    const shop = instance('shop', '8.1');
    const keep = instance('keep', '8.2');
    const plan = planRemoval(cluster(), [keep, shop], [shop]);
    if ('problems' in plan) throw new Error('problems');
    const web = plan.hosts.find((h) => h.host === 'web-1')!;
    expect(web.write).toEqual([]);
    expect(web.remove).toEqual([
      { path: '/etc/apache2/magrathea.d/shop.production.conf', service: 'apache', instance: 'shop.production' },
      { path: '/etc/php/8.1/fpm/pool.d/magrathea-shop.production.conf', service: 'fpm', instance: 'shop.production' },
    ]);
    expect(web.services).toEqual([{ service: 'apache', php: '8.1' }, { service: 'fpm', php: '8.1' }]);
    const edge = plan.hosts.find((h) => h.host === 'edge')!;
    expect(edge.write.map((f) => f.path)).toEqual(['/etc/varnish/magrathea/main.vcl', '/etc/varnish/magrathea/boot.cli', '/etc/haproxy/magrathea.d/hosts.map']);
    expect(edge.write.map((f) => f.content).join('')).not.toContain('shop');
    expect(edge.remove.map((f) => f.path)).toEqual(['/etc/varnish/magrathea/apps/shop.production.vcl', '/etc/haproxy/magrathea.d/shop.production.cfg']);
    expect(edge.services.map((s) => s.service)).toEqual(['varnish', 'haproxy']);
  });

  it('plans the same for an instance the cluster no longer lists (a rerun), and nothing for no instance', () => {
    const shop = instance('shop', '8.2');
    const keep = instance('keep', '8.2');
    expect(planRemoval(cluster(), [keep], [shop])).toEqual(planRemoval(cluster(), [keep, shop], [shop]));
    expect(planRemoval(cluster(), [keep, shop], [])).toEqual({ hosts: [] });
  });
});
