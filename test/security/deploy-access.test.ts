import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabStatus } from '../../src/lab/status.js';
import { curl } from '../helpers/curl.js';
import { freePort } from '../helpers/free-port.js';
import { gatewayClient, makeUserKeys, startGateway, type TestGateway } from '../helpers/gateway.js';
import { useLab } from '../helpers/lab.js';

/**
 * Which clusters a member deploys to and which domains its apps claim:
 * `magrathea serve` on the shared lab (a state directory of its own), real
 * git pushes as a member whose users.yml entry allows cluster-a and
 * *.example.com only. A refused push is refused before anything is built.
 */
const OWNER = 'sq-owner';
const APP = 'shop-sq';
let lab: LabStatus;
let work: string;
let port: number;
let server: TestGateway | undefined;
const keys: Record<string, string> = {};

const { ssh, git, newRepo: cloneExample } = gatewayClient(() => port, keys, () => join(work, 'known_hosts'));
const newRepo = (app: string, who: string) => cloneExample(join(work, app), app, who);

async function setDomains(repo: string, domains: string[]): Promise<void> {
  const file = join(repo, 'magrathea.yml');
  await writeFile(file, (await readFile(file, 'utf8')).replace(/^domains:\n( {2}- .*\n)+/m, `domains:\n${domains.map((d) => `  - ${d}\n`).join('')}`));
  await git(repo, 'carol', 'commit', '-q', '-am', `domains ${domains.join(' ')}`);
}

const edge = () => lab.edges.find((e) => e.cluster === 'cluster-a')!.url;

beforeAll(async () => {
  lab = await useLab();
  work = await mkdtemp(join(tmpdir(), 'magrathea-deploy-access-'));
  const config = join(work, 'config');
  await cp(lab.config, config, { recursive: true });
  const gateway = join(config, 'gateway.yml');
  await writeFile(gateway, (await readFile(gateway, 'utf8')).replace(/^state_dir: .*$/m, `state_dir: ${join(work, 'state')}`));
  const carolKey = (await makeUserKeys(lab, work, keys, ['carol'])).carol;
  const users = join(config, 'users.yml');
  await writeFile(users, `${await readFile(users, 'utf8')}carol:\n  role: member\n  keys: ["${carolKey}"]\n  apps: ["shop-*"]\n  verbs: [deploy]\n  clusters: [cluster-a]\n  domains: ["*.example.com"]\n`);
  port = await freePort();
  server = await startGateway(['--config', config, '--listen', `127.0.0.1:${port}`, '--no-http', '--no-accounting']);
  for (const app of [OWNER, APP]) expect((await ssh('admin', 'apps:create', app)).exitCode).toBe(0);
  const owner = await newRepo(OWNER, 'admin');
  const push = await git(owner, 'admin', 'push', '-o', 'cluster=cluster-a', 'magrathea', 'master');
  expect(push.stderr).toMatch(/cluster-a\s+live/);
}, 180_000);

// The server is stopped by PID here, failed or not.
afterAll(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('a member\'s push', () => {
  it('to a cluster it may not deploy to is refused before anything is built or recorded', async () => {
    const repo = await newRepo(APP, 'carol');
    const push = await git(repo, 'carol', 'push', 'magrathea', 'master');
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toMatch(/remote: carol may not deploy to cluster cluster-b \(users\.yml: carol\.clusters is cluster-a\)/);
    expect(push.stderr).not.toMatch(/remote: build|\$ cp config/);
    expect(JSON.parse((await ssh('admin', 'releases', APP, '--json')).stdout)).toEqual([]);
  });

  it('to its own cluster, with domains it may claim, deploys', async () => {
    const push = await git(join(work, APP), 'carol', 'push', '-o', 'cluster=cluster-a', 'magrathea', 'master');
    expect(push.stderr).toMatch(/cluster-a\s+live/);
    expect(push.exitCode).toBe(0);
    expect((await curl(edge(), `${APP}.example.com`)).status).toBe(200);
  });

  it('claiming a domain outside its patterns is refused', async () => {
    const repo = join(work, APP);
    await setDomains(repo, [`${APP}.example.com`, `${APP}.example.org`]);
    const push = await git(repo, 'carol', 'push', '-o', 'cluster=cluster-a', 'magrathea', 'master');
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toMatch(new RegExp(`remote: carol may not claim the domain ${APP}\\.example\\.org for ${APP}`));
    await git(repo, 'carol', 'reset', '-q', '--hard', 'HEAD~1');
  });

  it('claiming another app\'s domain is refused, and that app keeps serving it', async () => {
    const repo = join(work, APP);
    await setDomains(repo, [`${APP}.example.com`, `${OWNER}.example.com`]);
    const push = await git(repo, 'carol', 'push', '-o', 'cluster=cluster-a', 'magrathea', 'master');
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toMatch(new RegExp(`remote: the domain ${OWNER}\\.example\\.com is served by app ${OWNER} \\(production\\) on cluster-a`));
    expect((await curl(edge(), `${OWNER}.example.com`)).body).toMatch(/^Hello from cluster-a/);
    await git(repo, 'carol', 'reset', '-q', '--hard', 'HEAD~1');
  });

  it('config vars that change how programs start are refused, and nothing is set', async () => {
    const set = await ssh('admin', 'config:set', APP, 'GREETING=hi', 'LD_PRELOAD=/tmp/x.so');
    expect(set.exitCode).not.toBe(0);
    expect(set.stderr).toMatch(/"LD_PRELOAD" changes how programs start/);
    expect((await ssh('admin', 'config:show', APP)).stdout).not.toMatch(/GREETING|LD_PRELOAD/);
  });
});
