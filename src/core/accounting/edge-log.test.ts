import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { DEFAULT_PATHS, validateGatewayConfig } from '../config/validate.js';
import { renderHaproxyBackend } from '../render/haproxy.js';
import { renderMainVcl } from '../render/varnish.js';
import { resolveInstance } from '../manifest/resolve.js';
import { validateManifest } from '../manifest/validate.js';
import { CHECK_USER_AGENT, EDGE_LOG_FORMAT, EDGE_LOG_QUERY, edgeLogArgv, INSTANCE_HEADER, renderEdgeLogRotate, renderEdgeLogUnit, UNKNOWN_HOST_REASON } from './edge-log.js';

describe('the edge log', () => {
  it('starts with the five fields accounting reads, none of which can hold a space', () => {
    expect(EDGE_LOG_FORMAT.split(' ').slice(0, 5)).toEqual(['%{%s}t', `%{${INSTANCE_HEADER}}i`, '%s', '%I', '%O']);
    expect(edgeLogArgv(DEFAULT_PATHS, '/run/x.pid')).toEqual(['varnishncsa', '-a', '-w', '/var/log/magrathea/edge.log', '-D', '-P', '/run/x.pid', '-F', EDGE_LOG_FORMAT, '-q', EDGE_LOG_QUERY]);
  });

  it('leaves out what the renderers mark: the 404 of an unknown Host, and HAProxy\'s checks', () => {
    // The query names what main.vcl and the HAProxy backends say: if a renderer changes it, this fails.
    expect(renderMainVcl([])).toContain(`return (synth(404, "${UNKNOWN_HOST_REASON}"));`);
    expect(renderMainVcl([])).toContain(`unset req.http.${INSTANCE_HEADER};`);
    const config = validateGatewayConfig('/cfg', { 'clusters.yml': 'c1:\n  hosts:\n    w1: { address: 127.0.1.1, roles: [web] }\n    e1: { address: 127.0.1.2, roles: [cache, balancer] }\n' });
    const manifest = validateManifest('domains: [a.example.com]\nenvironments:\n  production: { branch: master, clusters: [c1] }\n', 'a/magrathea.yml');
    if ('problems' in config || 'problems' in manifest) throw new Error('fixture');
    const instance = resolveInstance(manifest.manifest, { app: 'a', env: 'production', cluster: 'c1' });
    if ('problems' in instance) throw new Error('fixture');
    expect(renderHaproxyBackend(config.config.clusters.c1!, instance.instance)).toContain(`hdr User-Agent ${CHECK_USER_AGENT}`);
  });

  it('is set up on a real host exactly as the README says', async () => {
    const readme = await readFile('README.md', 'utf8');
    expect(readme).toContain(`\`\`\`\n# /etc/systemd/system/varnishncsa.service.d/magrathea.conf\n${renderEdgeLogUnit(DEFAULT_PATHS)}\n# /etc/logrotate.d/magrathea-edge\n${renderEdgeLogRotate(DEFAULT_PATHS)}\`\`\`\n`);
  });

  it('writes each argument once for systemd: % doubled, quoted when it has spaces', () => {
    const unit = renderEdgeLogUnit({ logs: '/srv/logs' });
    expect(unit).toContain("ExecStart=/usr/bin/varnishncsa -a -w /srv/logs/edge.log -D -P /run/varnishncsa/varnishncsa.pid -F '%%{%%s}t %%{X-Magrathea-Instance}i %%s");
    expect(unit.split('\n').filter((l) => l.startsWith('ExecStart='))).toHaveLength(2);
  });
});
