import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { freePort } from '../helpers/free-port.js';
import { reserveSubnet } from '../helpers/free-subnet.js';
import { TEST_LABS } from '../helpers/test-labs.js';

/** What `npm run demo` runs after setup and build, without waiting for Ctrl-C. */
describe('magrathea demo', () => {
  let dir: string | undefined;
  afterAll(async () => {
    // The demo brings its lab down itself; this is for a demo that died half-way.
    if (dir) await run('node', [resolve('dist/src/cli/main.js'), 'lab', 'down', '--dir', dir, '--purge'], { reject: false });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts the lab and the gateway, pushes the example to both clusters with git, shows it served, and stops everything', async () => {
    dir = await mkdtemp(join(tmpdir(), 'magrathea-demo-'));
    const subnet = await reserveSubnet(TEST_LABS, [181, 183, 185, 187, 189], 2, Number(process.env.MAGRATHEA_TEST_RUN ?? process.pid));
    const port = await freePort();
    const demo = await run('node', [resolve('dist/src/cli/main.js'), 'demo', '--dir', join(dir, 'lab'), '--subnet', String(subnet), '--listen', `127.0.0.1:${port}`, '--http', '127.0.0.1:0', '--no-wait'], { reject: false, timeout: 180_000 });
    expect(demo.stderr).toBe('');
    expect(demo.exitCode).toBe(0);
    expect(demo.stdout).toMatch(/\$ git push magrathea master/);
    expect(demo.stdout).toMatch(/remote: cluster-a: preparing 3 hosts/);
    expect(demo.stdout).toMatch(/remote: cluster-a\s+live\s+r1/);
    expect(demo.stdout).toMatch(/remote: cluster-b\s+live\s+r1/);
    expect(demo.stdout).toMatch(new RegExp(`curl -H 'Host: hello\\.example\\.com' http://127\\.0\\.${subnet}\\.3/\\n  Hello from cluster-a`));
    expect(demo.stdout).toMatch(/Hallo from cluster-b/);
    // The HTTP API answered with the release the push made.
    expect(demo.stdout).toMatch(/\/v1\/apps\/hello\/releases\n {2}\[\{"id":"r1".*"status":"live"/);
    // The push and the API request in the audit log, as the demo's gateway records them.
    expect(demo.stdout).toMatch(/magrathea audit -n 3\n {2}\S+ +admin +exit 0 +\S+ +api: releases hello --json\n(.*\n)* {2}\S+ +admin +exit 0 +\S+ +git-receive-pack 'hello'/);
    expect(demo.stdout).toMatch(/lab: down \(\d+ processes stopped\)/);
    const status = await run('node', [resolve('dist/src/cli/main.js'), 'lab', 'status', '--dir', join(dir, 'lab'), '--json'], { reject: false });
    expect(JSON.parse(status.stdout).up).toBe(false);
    // A lab up, a gateway and two cluster deploys: over a minute on a loaded 2-core machine. The demo's own limit is 180 s.
  }, 240_000);
});
