import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { loadGatewayConfig } from '../../src/config/load.js';
import { labDown } from '../../src/lab/down.js';
import type { LabStatus } from '../../src/lab/status.js';
import { curl } from '../helpers/curl.js';
import type { ClusterConfig } from '../../src/core/config/types.js';
import { instanceRoot } from '../../src/core/render/names.js';
import { putFile, sshRun, useOwnLab } from '../helpers/lab.js';
import { runLabDir } from '../helpers/test-labs.js';
import { waitFor } from '../helpers/wait.js';
import { applyCluster, fill, placeRelease, resolveTestInstance, waitForEdge, webHosts } from '../helpers/hand-deploy.js';

/**
 * One web host's Apache stops; the edge keeps serving through the other.
 * On a lab of its own (one cluster, two web hosts): stopping a daemon of
 * the shared lab would pull the rug from under suites running beside it.
 */
let lab: LabStatus;
let cluster: ClusterConfig;
let health: string;
const domain = 'failover.lab.test';

beforeAll(async () => {
  lab = await useOwnLab('failover', { clusters: 1, webHosts: 2 }, [211, 212, 213, 214, 215, 216, 217, 218, 219]);
  cluster = (await loadGatewayConfig(lab.config)).clusters['cluster-a']!;
  const manifest = `stack: { docroot: public }\ndomains: [${domain}]\nhealth: { path: /health.php }\nenvironments:\n  production: { branch: master, clusters: [cluster-a] }\n`;
  const instance = resolveTestInstance(manifest, 'failover', 'production', 'cluster-a');
  health = `${instanceRoot(cluster.paths, instance)}/releases/r1/public/health.php`;
  const page = '<?php\nheader("Cache-Control: no-store");\necho "served by ", gethostname(), "\\n";\n';
  await placeRelease(lab, cluster, instance, 'r1', { 'public/index.php': page, 'public/health.php': 'ok\n' });
  await applyCluster(lab, cluster, [instance]);
  await waitForEdge(lab.edges[0]!.url, domain, 200);
}, 120_000);

afterAll(async () => {
  await labDown({ dir: runLabDir('failover'), purge: true });
}, 60_000);

test('HAProxy checks the cache host, not the app through it: reloaded while the app\'s health page fails, it keeps sending requests to Varnish', async () => {
  const edge = lab.edges[0]!;
  const cache = cluster.hosts.find((h) => h.name === edge.host)!;
  const failing = '<?php http_response_code(500); echo "down\\n";\n';
  await Promise.all(webHosts(cluster).map((h) => putFile(lab, h, health, failing)));
  try {
    // OPcache sees the change within its revalidation delay; then Varnish answers the check itself, whatever the app says.
    await waitForEdge(`${edge.url}/health.php`, domain, 500);
    expect((await curl(`http://${cache.address}:${cluster.ports.cache}`, 'magrathea-check')).status).toBe(200);
    // A client cannot reach that answer through the edge: HAProxy's map has no such Host (no app may declare a one-label domain).
    expect((await curl(edge.url, 'magrathea-check')).status).toBe(404);
    await sshRun(lab, edge.host, fill(cluster.commands.haproxy.reload, {}));
    // A reloaded HAProxy checks each server within its interval (5 s) and takes it out at the first
    // failure; Varnish's probe needs three (10 s or more) to give up on the web hosts.
    const until = Date.now() + 8_000;
    const answers = new Map<number, number>();
    while (Date.now() < until) {
      const status = (await curl(edge.url, domain)).status;
      answers.set(status, (answers.get(status) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect([...answers.keys()]).toEqual([200]);
  } finally {
    await Promise.all(webHosts(cluster).map((h) => putFile(lab, h, health, 'ok\n')));
  }
}, 60_000);

test('with one web host\'s Apache stopped, requests through the edge still succeed through the other', async () => {
  const served = new Set<string>();
  for (let i = 0; i < 4; i++) served.add((await curl(lab.edges[0]!.url, domain)).body);
  expect([...served].sort()).toEqual(['served by a-web-1\n', 'served by a-web-2\n']);

  await sshRun(lab, 'a-web-2', ['apache2ctl', 'stop']);
  // Until Varnish's probe takes a-web-2 out of the round robin, a request sent there fails: count those, then expect only successes.
  const began = Date.now();
  let failures = 0;
  const streak: string[] = [];
  while (streak.length < 10) {
    if (Date.now() - began > 40_000) throw new Error(`no 10 successes in a row through the edge after 40 s (${failures} failures)`);
    const response = await curl(lab.edges[0]!.url, domain);
    if (response.status === 200) {
      streak.push(response.body);
    } else {
      failures++;
      streak.length = 0;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  process.stdout.write(`failover: ${failures} failed request(s), ${((Date.now() - began) / 1000).toFixed(1)} s until 10 successes in a row\n`);
  expect(new Set(streak)).toEqual(new Set(['served by a-web-1\n']));
}, 90_000);

test('with one web host\'s PHP-FPM stopped, GETs through the edge are answered by the other: its Apache\'s 503 is tried on the next host', async () => {
  // a-web-2's Apache back (the test before stopped it), and in the round robin again once Varnish's probe says so.
  await sshRun(lab, 'a-web-2', ['/usr/sbin/apache2ctl', 'start']);
  const probed = async () => (await sshRun(lab, lab.edges[0]!.host, ['varnishadm', 'backend.list', '*.*a-web-2'])).stdout;
  await waitFor('Varnish to see a-web-2 healthy', async () => / healthy /.test(await probed()), 40_000, probed);
  // The probe asks for a file Apache serves itself, so a-web-2 stays in the round robin: the retry is what keeps GETs whole.
  await sshRun(lab, 'a-web-2', ['sh', '-c', 'kill -TERM "$(cat /run/php/php8.2-fpm.pid)"']);
  await waitFor('a-web-2 to answer 503 for PHP', async () => (await curl(`http://${cluster.hosts.find((h) => h.name === 'a-web-2')!.address}:${cluster.ports.web}`, domain)).status === 503, 10_000);
  const served = new Map<string, number>();
  for (let i = 0; i < 20; i++) {
    const response = await curl(lab.edges[0]!.url, domain);
    const key = `${response.status} ${response.body.trim()}`;
    served.set(key, (served.get(key) ?? 0) + 1);
  }
  expect([...served.keys()]).toEqual(['200 served by a-web-1']);
  // Still in the round robin: the probe does not run PHP.
  expect(await probed()).toMatch(/ healthy /);
}, 90_000);
