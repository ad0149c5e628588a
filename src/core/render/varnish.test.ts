import { describe, expect, it } from '@jest/globals';
import type { ClusterConfig } from '../config/types.js';
import type { InstanceConfig } from '../manifest/types.js';
import { testCluster, testInstance } from './test-fixtures.js';
import { renderCluster } from './cluster.js';
import { renderVhost } from './apache.js';
import { PROBE_PATH, probeFile } from './names.js';
import { renderAppVcl, renderMainVcl, renderVarnishBoot } from './varnish.js';

const CLUSTERS = `c1:
  hosts:
    web-1: { address: 192.0.2.11, roles: [web] }
    edge: { address: 192.0.2.10, roles: [cache, balancer] }
`;

const cluster = (): ClusterConfig => testCluster(CLUSTERS);

function instance(app: string, domains: string[], pass: string[] = []): InstanceConfig {
  return testInstance(app, `domains: ${JSON.stringify(domains)}\ncache: { pass: ${JSON.stringify(pass)} }\nenvironments:\n  production: { branch: master, clusters: [c1] }\n`);
}

describe('the edge, one VCL per instance', () => {
  it('main.vcl hands each domain to its instance\'s label, and 404 to any other Host', () => {
    const main = renderMainVcl([instance('shop', ['shop.example.com', 'www.shop.example.com']), instance('quiet', [])]);
    expect(main).toContain('    if (req.http.host == "shop.example.com" || req.http.host == "www.shop.example.com") {\n        return (vcl(magrathea_label_shop_production));\n    }\n');
    // An instance without a domain is named nowhere: its label may go without touching main.vcl.
    expect(main).not.toContain('quiet');
    expect(main).toMatch(/return \(synth\(404, "No app serves this host"\)\);\n}\n$/);
  });

  it('main.vcl changes with the domains only, not with an instance\'s rules', () => {
    expect(renderMainVcl([instance('shop', ['shop.example.com'], ['^/admin'])])).toBe(renderMainVcl([instance('shop', ['shop.example.com'])]));
    expect(renderAppVcl(cluster(), instance('shop', ['shop.example.com'], ['^/admin']))).not.toBe(renderAppVcl(cluster(), instance('shop', ['shop.example.com'])));
  });

  it('an instance\'s VCL stands alone: its own vcl line, imports, backends and retry', () => {
    const vcl = renderAppVcl(cluster(), instance('shop', ['shop.example.com']));
    expect(vcl.startsWith('vcl 4.1;\n')).toBe(true);
    expect(vcl).toContain('import directors;');
    expect(vcl).toContain('backend b_shop_production_web-1 {');
    expect(vcl).toContain('sub vcl_backend_error {');
  });

  it('probes each web host for a file its Apache serves without PHP, and tries the next host once on a 503', () => {
    const shop = instance('shop', ['shop.example.com']);
    const vcl = renderAppVcl(cluster(), shop);
    expect(vcl).toContain(`.request = "GET ${PROBE_PATH} HTTP/1.1" "Host: shop.example.com"`);
    expect(vcl).toContain('.expected_response = 200;');
    expect(vcl).not.toContain(shop.health.path === '/' ? 'GET / ' : shop.health.path);
    expect(vcl).toMatch(/sub vcl_backend_response \{\n {4}if \(beresp.status == 503 && bereq.retries == 0 && \(bereq.method == "GET" \|\| bereq.method == "HEAD"\)\) \{\n {8}return \(retry\);/);
    // Every vhost answers it from the host's one probe file, beside the instance roots, where only root writes.
    const vhost = renderVhost(cluster(), shop);
    expect(vhost).toContain(`Alias "${PROBE_PATH}" "${probeFile(cluster().paths)}"`);
    expect(vhost).toContain(`<Location "${PROBE_PATH}">\n        Require all granted\n    </Location>`);
  });

  it('boot.cli loads and labels every instance before main.vcl, which it uses last; paths quoted', () => {
    const boot = renderVarnishBoot('/etc/var "nish"', [instance('a', ['a.example.com']), instance('b', ['b.example.com'])]).split('\n');
    expect(boot).toEqual([
      'vcl.load magrathea_app_a_production_boot "/etc/var \\"nish\\"/apps/a.production.vcl"',
      'vcl.label magrathea_label_a_production magrathea_app_a_production_boot',
      'vcl.load magrathea_app_b_production_boot "/etc/var \\"nish\\"/apps/b.production.vcl"',
      'vcl.label magrathea_label_b_production magrathea_app_b_production_boot',
      'vcl.load magrathea_main_boot "/etc/var \\"nish\\"/main.vcl"',
      'vcl.use magrathea_main_boot',
      '',
    ]);
  });

  it('the cache host gets main.vcl, boot.cli and one VCL per instance, each VCL marked with its instance', () => {
    const rendered = renderCluster(cluster(), [instance('shop', ['shop.example.com'])]);
    if ('problems' in rendered) throw new Error('problems');
    const varnish = rendered.files.filter((f) => f.service === 'varnish');
    expect(varnish.map((f) => [f.path, f.instance])).toEqual([
      ['/etc/varnish/magrathea/main.vcl', undefined],
      ['/etc/varnish/magrathea/boot.cli', undefined],
      ['/etc/varnish/magrathea/apps/shop.production.vcl', { app: 'shop', env: 'production' }],
    ]);
  });
});
