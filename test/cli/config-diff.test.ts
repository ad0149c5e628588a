/**
 * `magrathea config:diff` at the gateway's command line: an app's repository
 * on a gateway (the example app on its default branch), config vars set with
 * `config:set`, no lab (nothing is deployed). The gateway's private Redis is
 * stopped by its PID file at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { stopPrivateRedis } from '../../src/adapters/redis-server.js';
import { loadGatewayConfig } from '../../src/config/load.js';
import { createRepo } from '../../src/push/repos.js';
import { runCli } from '../helpers/cli.js';

let work: string;
let config: string;
let state: string;
const cli = (...args: string[]) => runCli([...args, '--config', config]);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'magrathea-config-diff-'));
  config = join(work, 'config');
  state = join(work, 'state');
  await cp(resolve('config'), config, { recursive: true });
  const gatewayYml = join(config, 'gateway.yml');
  await writeFile(gatewayYml, (await readFile(gatewayYml, 'utf8')).replace(/^state_dir: .*$/m, `state_dir: ${state}`));
  const bare = await createRepo(state, 'diffy', config, (await loadGatewayConfig(config)).gateway.builds);
  // The example on master, stored without a push (no hook, no deploy): what config:diff reads is the app's default branch.
  const repo = join(work, 'diffy');
  await cp(resolve('examples/hello-php'), repo, { recursive: true });
  await run('git', ['init', '-q', '-b', 'master', repo]);
  await run('git', ['-C', repo, 'add', '-A']);
  await run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'first']);
  await run('git', ['--git-dir', bare, 'fetch', '-q', repo, 'master:master']);
  expect((await cli('config:set', 'diffy@cluster-b', 'API_KEY=b-secret')).status).toBe(0);
  expect((await cli('config:set', 'diffy', 'API_KEY=shared-secret', 'SAME=1')).status).toBe(0);
}, 60_000);

afterAll(async () => {
  await stopPrivateRedis(state).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

describe('config:diff', () => {
  it('shows only the keys that differ between two clusters, each side with its layer and source line, config vars masked', async () => {
    const result = await cli('config:diff', 'diffy', 'cluster-a', 'cluster-b');
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(result.stdout).toMatch(/^diffy \(production\) on cluster-a and cluster-b: 4 keys differ\n/);
    expect(result.stdout).toMatch(/^domains\s+@cluster-a\s+\["diffy\.example\.com", "www\.diffy\.example\.com"\]\s+base\s+diffy@master:magrathea\.yml:14:3\n\s+@cluster-b\s+\["diffy\.example\.net"\]\s+clusters\.cluster-b\s+diffy@master:magrathea\.yml:\d+:\d+$/m);
    expect(result.stdout).toMatch(/^env\.DB_HOST\s+@cluster-a\s+\(not set\)\n\s+@cluster-b\s+"db-b\.internal"\s+clusters\.cluster-b/m);
    expect(result.stdout).toMatch(/^env\.API_KEY\s+@cluster-a\s+"\*{8}"\s+config vars\n\s+@cluster-b\s+"\*{8}"\s+config vars @cluster-b\n/m);
    expect(result.stdout).toMatch(/^env\.GREETING\s/m);
    // Same on both: not shown.
    expect(result.stdout).not.toMatch(/SAME|APP_ENV|secret/);
  });

  it('reveals config vars with --reveal, and answers JSON', async () => {
    const json = JSON.parse((await cli('config:diff', 'diffy', 'cluster-a', 'cluster-b', '--reveal', '--json')).stdout) as { differences: { path: string; sides: { value: unknown }[] }[] };
    expect(json.differences.find((d) => d.path === 'env.API_KEY')!.sides.map((s) => s.value)).toEqual(['shared-secret', 'b-secret']);
    expect(json.differences.map((d) => d.path)).toEqual(['domains', 'env.API_KEY', 'env.DB_HOST', 'env.GREETING']);
  });

  it('refuses a cluster the environment lacks, one cluster twice, a bad name, a missing one; follows config:unset', async () => {
    // staging deploys to cluster-a only.
    const staging = await cli('config:diff', 'diffy', 'cluster-a', 'cluster-b', '--env', 'staging');
    expect(staging.status).toBe(1);
    expect(staging.stderr).toMatch(/environment "staging" does not deploy to cluster "cluster-b"; its clusters are: cluster-a/);
    expect(await cli('config:diff', 'diffy', 'cluster-a', 'cluster-a')).toMatchObject({ status: 2, stderr: expect.stringMatching(/name two different clusters/) });
    expect(await cli('config:diff', 'diffy', 'cluster-a', 'Bad;name')).toMatchObject({ status: 2 });
    expect(await cli('config:diff', 'diffy', 'cluster-a')).toMatchObject({ status: 2 });
    expect((await cli('config:diff', 'nope', 'cluster-a', 'cluster-b')).status).not.toBe(0);
    await cli('config:unset', 'diffy@cluster-b', 'API_KEY');
    const fewer = await cli('config:diff', 'diffy', 'cluster-a', 'cluster-b');
    expect(fewer.stdout).toMatch(/: 3 keys differ\n/);
  });
});

describe('doctor at the command line', () => {
  it('refuses a cluster clusters.yml does not have, naming the ones it has, before reaching any host', async () => {
    const result = await cli('doctor', '--cluster', 'cluster-z');
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^doctor: no cluster "cluster-z" in \S+\/clusters\.yml \(clusters: cluster-a, cluster-b\)$/m);
  });
});
