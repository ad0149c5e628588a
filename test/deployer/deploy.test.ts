import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, start } from '../../src/adapters/exec.js';
import { buildRelease, exportTree } from '../../src/builder/build-release.js';
import type { GatewayConfig } from '../../src/core/config/types.js';
import { HostSession } from '../../src/adapters/ssh.js';
import { sshMasters } from '../../src/adapters/ssh-masters.js';
import { deploy, formatDeployResult, hostSshSettings } from '../../src/deployer/deploy.js';
import type { DeployOutcome, DeployState } from '../../src/deployer/types.js';
import type { LabStatus } from '../../src/lab/status.js';
import { labUp } from '../../src/lab/up.js';
import { readApp } from '../../src/builder/manifest.js';
import { instanceRoot } from '../../src/core/render/names.js';
import { curl } from '../helpers/curl.js';
import { openDeployState, type SuiteDeployState } from '../helpers/deploy-trees.js';
import { sshRun, useOwnLab } from '../helpers/lab.js';

/**
 * The deploy pipeline on the lab (2 clusters x 2 web hosts): real sshd,
 * rsync, Apache, PHP-FPM, Varnish and HAProxy. The app is the example,
 * under a name of this suite's (the lab is shared by the suites).
 */
const APP = 'dtest';
let lab: LabStatus;
let config: GatewayConfig;
let suite: SuiteDeployState | undefined;
let state: DeployState;
let work: string;
let repo: string;
let n = 0;

beforeAll(async () => {
  // A lab of its own: this suite stops an sshd and makes a directory immutable.
  lab = await useOwnLab('deploy', { clusters: 2, webHosts: 2 }, [221, 223, 225, 227, 229, 231, 233, 235, 237]);
  suite = await openDeployState(lab.config, 'deploy-test');
  ({ config, state, work } = suite);
  repo = join(work, APP);
  await cp('examples/hello-php', repo, { recursive: true });
  await run('git', ['init', '-q', '-b', 'master', repo]);
  await commit('first');
}, 120_000);

afterAll(async () => {
  await suite?.close();
});

async function commit(message: string): Promise<string> {
  await run('git', ['-C', repo, 'add', '-A']);
  await run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '--allow-empty', '-m', message]);
  return (await run('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout.trim();
}

/** Builds HEAD and deploys it as the next release. */
async function deployHead(): Promise<{ result: DeployOutcome; commit: string; lines: string[] }> {
  const head = (await run('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout.trim();
  const app = await readApp(repo, APP);
  const tree = join(work, `tree-${n + 1}`);
  await exportTree(repo, head, tree, `${repo}.checkout`);
  const built = await buildRelease({ tree, commit: head, workspace: join(work, 'build'), commands: ['cp config/app.example.php config/app.php'] });
  const lines: string[] = [];
  const result = await deploy({ app: APP, env: 'production', release: `r${++n}`, manifest: app.manifest, source: built.dir }, { config, state, log: (l) => lines.push(l) });
  return { result, commit: head, lines };
}

function edge(cluster: string): string {
  return lab.edges.find((e) => e.cluster === cluster)!.url;
}

async function page(url: string, host: string): Promise<string> {
  const response = await curl(url, host);
  return `${response.status} ${response.body}`;
}

describe('deploy on the lab', () => {
  it('serves the app through both edges, with each cluster\'s own domains and env', async () => {
    const { result, commit: sha } = await deployHead();
    expect(formatDeployResult(result)).toMatch(/cluster-a\s+live\s+r1\s+3\s+http/);
    expect(result.ok).toBe(true);
    const a = await page(edge('cluster-a'), `${APP}.example.com`);
    expect(a).toMatch(/^200 Hello from cluster-a\n/);
    expect(a).toContain(`release: ${sha}`);
    expect(await page(edge('cluster-b'), `${APP}.example.net`)).toMatch(/^200 Hallo from cluster-b\n/);
    // Each cluster serves only its own domains.
    expect(await page(edge('cluster-a'), `${APP}.example.net`)).toMatch(/^404 /);
    expect(await page(edge('cluster-b'), `www.${APP}.example.com`)).toMatch(/^404 /);
    // ${host} in env: each web host says who it is.
    const served = new Set<string>();
    for (let i = 0; i < 6; i++) served.add(/served by: (\S+),/.exec(await page(`${edge('cluster-a')}/?${i}`, `www.${APP}.example.com`))![1]!);
    expect([...served].sort()).toEqual(['a-web-1', 'a-web-2']);
  });

  it('redeploys a one-file change by sending that file (with REVISION and the shared dir seed) only, seen at once through the cache', async () => {
    // Cached by Varnish for 60 s (the page says nothing about caching; the manifest's ttl is 60s).
    const before = await curl(edge('cluster-a'), `${APP}.example.com`);
    // A hit: X-Varnish names this request and the one that filled the cache.
    expect((await curl(edge('cluster-a'), `${APP}.example.com`)).headers['x-varnish']).toMatch(/^\d+ \d+$/);
    const index = join(repo, 'public/index.php');
    await writeFile(index, `${await readFile(index, 'utf8')}echo "changed\\n";\n`);
    const sha = await commit('one file');
    const { result } = await deployHead();
    expect(result.ok).toBe(true);
    // index.php, REVISION, and storage/.gitkeep: the shared dir's seed, which the previous release has as a link.
    for (const outcome of result.clusters) expect(Object.values(outcome.transferred!)).toEqual([3, 3]);
    const after = await curl(edge('cluster-a'), `${APP}.example.com`);
    expect(after.body).not.toBe(before.body);
    expect(after.body).toContain('changed');
    expect(after.body).toContain(`release: ${sha}`);
    expect(await page(edge('cluster-b'), `${APP}.example.net`)).toContain('changed');
  });

  it('keeps each host\'s SSH master for the next deploy, and replaces one killed between two deploys', async () => {
    const masterOf = (name: string): number | undefined => {
      const host = config.clusters['cluster-a']!.hosts.find((h) => h.name === name)!;
      return sshMasters.pidOf(new HostSession({ name, address: host.address, user: host.ssh.user, port: host.ssh.port }, hostSshSettings(config)).controlPath());
    };
    const kept = masterOf('a-web-2');
    const killed = masterOf('a-web-1')!;
    expect(kept).toBeDefined();
    process.kill(killed, 'SIGKILL');
    await commit('after a master was killed');
    const { result } = await deployHead();
    expect(formatDeployResult(result)).toMatch(/cluster-a\s+live/);
    expect(result.ok).toBe(true);
    expect(masterOf('a-web-1')).not.toBe(killed);
    expect(masterOf('a-web-1')).toBeDefined();
    expect(masterOf('a-web-2')).toBe(kept);
  });

  it('fails naming the host whose sshd is down, and switches no host of that cluster', async () => {
    const pid = (await readFile(join(lab.dir, 'hosts/a-web-2/fs/run/sshd.pid'), 'utf8')).trim();
    const live = await state.hostReleases(APP, 'production', 'cluster-a');
    // The connections kept from the last deploy would still reach the host: as if it went down, they go too.
    await sshMasters.close();
    await run('kill', [pid]);
    try {
      await commit('while a-web-2 is down');
      const { result } = await deployHead();
      expect(result.ok).toBe(false);
      expect(result.clusters[0]).toMatchObject({ cluster: 'cluster-a', status: 'failed' });
      expect(result.clusters[0]!.error).toMatch(/^cluster-a: a-web-2: connect: cannot reach host a-web-2: .*refused/);
      expect(result.clusters[1]).toMatchObject({ cluster: 'cluster-b', status: 'skipped' });
      expect(await state.hostReleases(APP, 'production', 'cluster-a')).toEqual(live);
      const current = await sshRun(lab, 'a-web-1', ['readlink', `/var/www/magrathea/${APP}/production/current`]);
      expect(current.stdout.trim()).toBe(`releases/${live['a-web-1']}`);
    } finally {
      await labUp({ dir: lab.dir, shape: lab.shape }); // starts what is down again
    }
  });

  it('puts every host of the cluster back when the switch fails on one of them', async () => {
    const live = await state.hostReleases(APP, 'production', 'cluster-a');
    const root = `/var/www/magrathea/${APP}/production`;
    await sshRun(lab, 'a-web-2', ['chattr', '+i', root]);
    try {
      await writeFile(join(repo, 'public/index.php'), '<?php echo "never served\\n";\n');
      await commit('unlucky');
      const { result } = await deployHead();
      expect(result.clusters[0]).toMatchObject({ cluster: 'cluster-a', status: 'rolled-back', serving: live['a-web-1'] });
      expect(result.clusters[0]!.error).toMatch(/^cluster-a: a-web-2: activate: .*Operation not permitted$/);
      for (const host of ['a-web-1', 'a-web-2']) {
        expect((await sshRun(lab, host, ['readlink', `${root}/current`])).stdout.trim()).toBe(`releases/${live[host]}`);
      }
      for (let i = 0; i < 4; i++) expect(await page(`${edge('cluster-a')}/?x=${i}`, `${APP}.example.com`)).toContain('changed');
      expect(await state.hostReleases(APP, 'production', 'cluster-a')).toEqual(live);
    } finally {
      await sshRun(lab, 'a-web-2', ['chattr', '-i', root]);
    }
  });
});

describe('several apps at once', () => {
  it('three apps deployed at the same time on the same cluster are all served afterwards (the edge files are rendered from all of them); their releases travel while another deploy holds the cluster', async () => {
    const apps = ['para-one', 'para-two', 'para-three'];
    // Another deploy holds cluster-a (this test, until every release is on the web hosts).
    let free!: () => void;
    const held = new Promise<void>((resolve) => (free = resolve));
    let holding!: () => void;
    const taken = new Promise<void>((resolve) => (holding = resolve));
    const holder = state.withClusterLock('cluster-a', 'deploy-test-holder', () => undefined, () => (holding(), held));
    await taken;
    const lines: string[] = [];
    const deploys = Promise.all(
      apps.map(async (name) => {
        const dir = join(work, name);
        await cp('examples/hello-php', dir, { recursive: true });
        await run('git', ['init', '-q', '-b', 'master', dir]);
        await run('git', ['-C', dir, 'add', '-A']);
        await run('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', name]);
        const head = (await run('git', ['-C', dir, 'rev-parse', 'HEAD'])).stdout.trim();
        const tree = join(work, `tree-${name}`);
        await exportTree(dir, head, tree, `${dir}.checkout`);
        const built = await buildRelease({ tree, commit: head, workspace: join(work, `build-${name}`), commands: ['cp config/app.example.php config/app.php'] });
        const app = await readApp(dir, name);
        // One cluster shows it (git push -o cluster=cluster-a): a second only adds three more deploys, in turn, to the test's time.
        return deploy({ app: name, env: 'production', release: 'r1', manifest: app.manifest, source: built.dir, clusters: ['cluster-a'] }, { config, state, log: (l) => lines.push(l) });
      }),
    );
    try {
      // Each release reaches both web hosts while the cluster is held; nothing of it is served, nor readable by other users.
      const paths = config.clusters['cluster-a']!.paths;
      for (const host of ['a-web-1', 'a-web-2']) {
        for (const name of apps) {
          const root = instanceRoot(paths, { app: name, env: 'production' });
          const script = 'for i in $(seq 600); do [ -f "$1/releases/r1/public/index.php" ] && break; sleep 0.2; done; stat -c "%U %a" "$1"; [ -e "$1/current" ] && echo live || echo not-live';
          expect((await sshRun(lab, host, ['sh', '-c', script, 'sh', root], { timeout: 150_000 })).stdout).toBe('root 700\nnot-live\n');
        }
      }
      // And each then waits for the cluster.
      const waiting = () => lines.filter((l) => l.includes('cluster-a: waiting for another deploy on this cluster')).length;
      for (let i = 0; i < 300 && waiting() < 3; i++) await new Promise((r) => setTimeout(r, 200));
      expect(waiting()).toBe(3);
    } finally {
      free();
    }
    await holder;
    const results = await deploys;
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(results.map((r) => r.clusters.map((c) => c.cluster))).toEqual([['cluster-a'], ['cluster-a'], ['cluster-a']]);
    for (const name of apps) expect(await page(edge('cluster-a'), `${name}.example.com`)).toMatch(/^200 Hello from cluster-a/);
    // Three first deploys at once on two cores: they take turns at the cluster's lock, so more than one deploy's time.
  }, 240_000);
});

describe('the command line on the lab: magrathea worker, deploy, releases, rollback', () => {
  const CLI = join(process.cwd(), 'dist/src/cli/main.js');
  const workers: ReturnType<typeof start>[] = [];
  let cliRepo: string;

  const startWorker = () => {
    const worker = start('node', [CLI, 'worker', '--config', lab.config, '--stall-ms', '1000', '--concurrency', '2'], { stdio: 'pipe' });
    workers.push(worker);
    return worker;
  };
  const magrathea = (...args: string[]) => run('node', [CLI, ...args, '--config', lab.config], { reject: false, timeout: 120_000 });

  beforeAll(async () => {
    cliRepo = join(work, 'ctest');
    await cp('examples/hello-php', cliRepo, { recursive: true });
    // Enough files for prepare to take a moment.
    await mkdir(join(cliRepo, 'lib'));
    for (let i = 0; i < 400; i++) await writeFile(join(cliRepo, 'lib', `f${i}.php`), `<?php // ${i} ${'x'.repeat(2000)}\n`);
    await run('git', ['init', '-q', '-b', 'master', cliRepo]);
    await run('git', ['-C', cliRepo, 'add', '-A']);
    await run('git', ['-C', cliRepo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'one']);
  });

  afterAll(async () => {
    for (const worker of workers) {
      worker.kill('SIGKILL');
      await worker.catch(() => undefined);
    }
    // The private Redis of the lab's gateway state was started by the worker that was killed: stop it by its PID.
    const pid = await readFile(join(lab.dir, 'gateway/redis/redis.pid'), 'utf8').catch(() => '');
    if (/^\d+\s*$/.test(pid)) await run('kill', [pid.trim()], { reject: false });
  });

  // A deploy and a rollback through the command line and a worker each: past jest's 60 s on a loaded 2-core machine (CI saw 60 s).
  it('a worker killed with SIGKILL during prepare: the job runs again on another worker and every host ends on one release', async () => {
    const first = startWorker();
    let output = '';
    await new Promise<void>((resolve) => first.stdout!.on('data', (d: Buffer) => (d.toString().includes('worker ready') ? resolve() : undefined)));
    const deployment = start('node', [CLI, 'deploy', cliRepo, '--config', lab.config], { stdio: 'pipe' });
    workers.push(deployment);
    let killed = false;
    deployment.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (!killed && output.includes('cluster-a: preparing')) {
        killed = true;
        first.kill('SIGKILL');
        startWorker();
      }
    });
    const exit = await deployment;
    expect({ exitCode: exit.exitCode, killed }).toEqual({ exitCode: 0, killed: true });
    expect(output).toMatch(/run again after its worker stopped/);
    expect(output).toMatch(/cluster-a\s+live\s+r1/);
    expect(output).toMatch(/cluster-b\s+live\s+r1/);
    for (const host of ['a-web-1', 'a-web-2', 'b-web-1', 'b-web-2']) {
      expect((await sshRun(lab, host, ['readlink', '/var/www/magrathea/ctest/production/current'])).stdout.trim()).toBe('releases/r1');
    }
    expect(await page(edge('cluster-a'), 'ctest.example.com')).toMatch(/^200 Hello from cluster-a/);
  }, 180_000);

  it('releases lists the history; rollback brings the previous release back on every host of the cluster', async () => {
    await writeFile(join(cliRepo, 'public/index.php'), '<?php echo "second\\n";\n');
    await run('git', ['-C', cliRepo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-a', '-m', 'two']);
    const second = await magrathea('deploy', cliRepo);
    expect(second.exitCode).toBe(0);
    expect(await page(edge('cluster-a'), 'ctest.example.com')).toBe('200 second\n');

    const releases = await magrathea('releases', 'ctest', '--json');
    expect(JSON.parse(releases.stdout).map((r: { id: string; liveOn: string[] }) => [r.id, r.liveOn])).toEqual([
      ['r2', ['cluster-a', 'cluster-b']],
      ['r1', []],
    ]);

    const back = await magrathea('rollback', 'ctest@cluster-a');
    expect(back.stderr).toBe('');
    expect(back.exitCode).toBe(0);
    expect(back.stdout).toMatch(/from r2 to r1/);
    for (const host of ['a-web-1', 'a-web-2']) {
      expect((await sshRun(lab, host, ['readlink', '/var/www/magrathea/ctest/production/current'])).stdout.trim()).toBe('releases/r1');
    }
    // The cache was banned: the old page is served at once, from both web hosts.
    for (let i = 0; i < 4; i++) expect(await page(`${edge('cluster-a')}/?${i}`, 'ctest.example.com')).toMatch(/^200 Hello from cluster-a/);
    // cluster-b was not asked.
    expect(await page(edge('cluster-b'), 'ctest.example.net')).toBe('200 second\n');
    const after = JSON.parse((await magrathea('releases', 'ctest', '--json')).stdout);
    expect(after.map((r: { id: string; liveOn: string[] }) => [r.id, r.liveOn])).toEqual([
      ['r2', ['cluster-b']],
      ['r1', ['cluster-a']],
    ]);
  }, 180_000);

  it('refuses hostile arguments before touching anything', async () => {
    for (const args of [['rollback', 'x;id'], ['rollback', '../etc'], ['releases', 'a'.repeat(41)], ['rollback', 'ctest', '--to', 'r1;id']]) {
      const result = await magrathea(...args);
      expect(result.exitCode).toBe(2);
    }
  });
});
