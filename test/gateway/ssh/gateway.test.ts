import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, start } from '../../../src/adapters/exec.js';
import type { LabStatus } from '../../../src/lab/status.js';
import { curl } from '../../helpers/curl.js';
import { freePort } from '../../helpers/free-port.js';
import { gatewayClient, makeUserKeys, startGateway, type TestGateway } from '../../helpers/gateway.js';
import { sshRun, useOwnLab } from '../../helpers/lab.js';
import { waitFor } from '../../helpers/wait.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { openApiDocument } from '../../../src/gateway/http/openapi.js';

/** The built command line, as another machine's user runs it. */
const CLIENT = resolve('dist/src/cli/main.js');

/**
 * The SSH gateway with the real git and OpenSSH clients: `magrathea serve`
 * on a lab of its own, pushes that deploy (or are rejected), commands,
 * access control.
 */
let lab: LabStatus;
let work: string;
let config: string;
let port: number;
let server: TestGateway | undefined;
let api: string;
const keys: Record<string, string> = {};

const { sshCommand, ssh, git, newRepo: cloneExample } = gatewayClient(() => port, keys, () => join(work, 'known_hosts'));
const newRepo = (name: string, app: string) => cloneExample(join(work, name), app, 'admin');

const edge = (cluster: string) => lab.edges.find((e) => e.cluster === cluster)!.url;

beforeAll(async () => {
  lab = await useOwnLab('gateway', { clusters: 2, webHosts: 1 }, [241, 243, 245, 247, 249, 251, 253]);
  work = await mkdtemp(join(tmpdir(), 'magrathea-gateway-'));
  config = join(work, 'config');
  await cp(lab.config, config, { recursive: true });
  // Small enough for a test to cross, far above what the example app sends.
  await writeFile(join(config, 'gateway.yml'), `${await readFile(join(lab.config, 'gateway.yml'), 'utf8')}builds:\n  max_push_size: 2M\n`);
  const bobKey = (await makeUserKeys(lab, work, keys, ['bob', 'stranger'])).bob;
  await writeFile(join(config, 'users.yml'), `${await readFile(join(lab.config, 'users.yml'), 'utf8')}bob:\n  role: member\n  keys: ["${bobKey}"]\n  apps: ["shop-*"]\n  verbs: [deploy]\n`);
  port = await freePort();
  server = await startGateway(['--config', config, '--listen', `127.0.0.1:${port}`, '--http', '127.0.0.1:0']);
  api = server.api!;
  expect((await ssh('admin', 'apps:create', 'hello')).exitCode).toBe(0);
  expect((await ssh('admin', 'apps:create', 'shop-eu')).exitCode).toBe(0);
}, 120_000);

// The server is stopped by PID here, failed or not; the lab by the run's teardown.
afterAll(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('git push magrathea master', () => {
  it('deploys to both clusters, streaming progress and a final table, then serves the page through both edges', async () => {
    const repo = await newRepo('hello', 'hello');
    const push = await git(repo, 'admin', 'push', 'magrathea', 'master');
    expect(push.exitCode).toBe(0);
    expect(push.stderr).toMatch(/remote: cluster-a: preparing 2 hosts/);
    expect(push.stderr).toMatch(/remote: cluster-a\s+live\s+r1\s+2\s+http:\/\/127\.0\.\d+\.2\s+[\d.]+s/);
    expect(push.stderr).toMatch(/remote: cluster-b\s+live\s+r1/);
    expect((await curl(edge('cluster-a'), 'hello.example.com')).body).toMatch(/^Hello from cluster-a/);
    expect((await curl(edge('cluster-b'), 'hello.example.net')).body).toMatch(/^Hallo from cluster-b/);
  }, 180_000);

  it('rejects an invalid manifest with file:line:col, and the branch does not move', async () => {
    const repo = join(work, 'hello');
    const before = (await ssh('admin', 'releases', 'hello', '--json')).stdout;
    await writeFile(join(repo, 'magrathea.yml'), (await readFile(join(repo, 'magrathea.yml'), 'utf8')).replace('ttl: 60s', 'ttl: soon'));
    await git(repo, 'admin', 'commit', '-q', '-am', 'bad ttl');
    const push = await git(repo, 'admin', 'push', 'magrathea', 'master');
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toMatch(/remote: magrathea\.yml:\d+:\d+: cache\.ttl: "soon" is not a duration/);
    expect(push.stderr).toMatch(/\[remote rejected\] master -> master \(pre-receive hook declined\)/);
    const remote = await git(repo, 'admin', 'ls-remote', 'magrathea', 'refs/heads/master');
    expect(remote.stdout.split('\t')[0]).toBe((await git(repo, 'admin', 'rev-parse', 'HEAD~1')).stdout.trim());
    expect((await ssh('admin', 'releases', 'hello', '--json')).stdout).toBe(before);
    await git(repo, 'admin', 'reset', '-q', '--hard', 'HEAD~1');
  });

  it('rejects a push whose deploy fails, with the one-line cause, and the branch does not move', async () => {
    const repo = join(work, 'hello');
    // A new health path that fails, checked for 3 s. The rollback checks the release it goes back to as that release's
    // configuration says (its path, which the old release has, and its 30 s), not as the failed one's.
    await writeFile(join(repo, 'public/health-v2.php'), '<?php http_response_code(500);');
    await writeFile(join(repo, 'magrathea.yml'), (await readFile(join(repo, 'magrathea.yml'), 'utf8')).replace('timeout: 30s', 'timeout: 3s').replace('path: /health.php', 'path: /health-v2.php'));
    await git(repo, 'admin', 'add', '-A');
    await git(repo, 'admin', 'commit', '-q', '-m', 'broken health');
    const push = await git(repo, 'admin', 'push', 'magrathea', 'master');
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toMatch(/remote: cluster-a\s+rolled-back\s+r1/);
    expect(push.stderr).not.toMatch(/rollback failed too/);
    expect(push.stderr).toMatch(/remote: deploy of hello r\d+ failed: cluster-a: a-web-1: verify: .*answered 500, expected 200 within 3 s/);
    const remote = await git(repo, 'admin', 'ls-remote', 'magrathea', 'refs/heads/master');
    expect(remote.stdout.split('\t')[0]).toBe((await git(repo, 'admin', 'rev-parse', 'HEAD~1')).stdout.trim());
    expect((await curl(edge('cluster-a'), 'hello.example.com')).body).toMatch(/^Hello from cluster-a/);
    await git(repo, 'admin', 'reset', '-q', '--hard', 'HEAD~1');
  });

  it('stores a branch that feeds no environment, saying nothing was deployed', async () => {
    const repo = join(work, 'hello');
    await git(repo, 'admin', 'checkout', '-q', '-b', 'feature');
    const push = await git(repo, 'admin', 'push', 'magrathea', 'feature');
    expect(push.exitCode).toBe(0);
    expect(push.stderr).toMatch(/remote: feature: feeds no environment \(master -> production, develop -> staging\): pushed, nothing deployed/);
    await git(repo, 'admin', 'checkout', '-q', 'master');
  });

  it('refuses a push over builds.max_push_size, naming the limit, and stores nothing', async () => {
    const repo = await newRepo('too-big', 'shop-eu');
    await run('sh', ['-c', 'head -c 3000000 /dev/urandom > "$1"', 'sh', join(repo, 'big.bin')]);
    await git(repo, 'admin', 'add', '-A');
    await git(repo, 'admin', 'commit', '-q', '-m', 'big');
    const push = await git(repo, 'admin', 'push', 'magrathea', 'master');
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toMatch(/magrathea: push refused: .* received before git stopped reading, over the limit of 2\.0 MiB per push \(builds\.max_push_size in gateway\.yml\); nothing was stored/);
    expect((await git(repo, 'admin', 'ls-remote', 'magrathea')).stdout).toBe('');
  });

  it('deploys one cluster only with git push -o cluster=NAME', async () => {
    const repo = join(work, 'hello');
    await writeFile(join(repo, 'public/index.php'), '<?php echo "only b\\n";');
    await git(repo, 'admin', 'commit', '-q', '-am', 'b only');
    const push = await git(repo, 'admin', 'push', '-o', 'cluster=cluster-b', 'magrathea', 'master');
    expect(push.exitCode).toBe(0);
    expect(push.stderr).not.toMatch(/remote: cluster-a/);
    expect((await curl(edge('cluster-b'), 'hello.example.net')).body).toBe('only b\n');
    expect((await curl(edge('cluster-a'), 'hello.example.com')).body).toMatch(/^Hello from cluster-a/);
  });

  it('two pushes at once: both end, one after the other, and the branch is at the last accepted commit', async () => {
    const one = await newRepo('one', 'hello');
    const two = await newRepo('two', 'hello');
    for (const [repo, text] of [[one, 'one'], [two, 'two']] as const) {
      await git(repo, 'admin', 'fetch', '-q', 'magrathea');
      await git(repo, 'admin', 'reset', '-q', '--hard', 'magrathea/master');
      await writeFile(join(repo, 'public/index.php'), `<?php echo "${text}\\n";`);
      await git(repo, 'admin', 'commit', '-q', '-am', text);
    }
    const [a, b] = await Promise.all([git(one, 'admin', 'push', 'magrathea', 'master'), git(two, 'admin', 'push', 'magrathea', 'master')]);
    const accepted = [a, b].filter((p) => p.exitCode === 0);
    const refused = [a, b].filter((p) => p.exitCode !== 0);
    expect(accepted).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.stderr).toMatch(/remote: waiting: another push of hello \(production\) is deploying|moved to [0-9a-f]+ while this push waited|fetch first|non-fast-forward/);
    const winner = accepted[0] === a ? one : two;
    const head = (await git(winner, 'admin', 'rev-parse', 'HEAD')).stdout.trim();
    expect((await git(winner, 'admin', 'ls-remote', 'magrathea', 'refs/heads/master')).stdout.split('\t')[0]).toBe(head);
    expect((await curl(edge('cluster-b'), 'hello.example.net')).body).toBe(`${winner === one ? 'one' : 'two'}\n`);
  });
});

describe('ssh magrathea', () => {
  it('refuses an unknown key', async () => {
    const result = await ssh('stranger', 'help');
    expect(result.exitCode).toBe(255);
    expect(result.stderr).toMatch(/Permission denied/);
  });

  it('keeps members to their apps and verbs', async () => {
    expect((await ssh('bob', 'apps:list')).stdout).toBe('shop-eu\n');
    expect(JSON.parse((await ssh('bob', 'whoami', '--json')).stdout)).toMatchObject({ user: 'bob', role: 'member', apps: ['shop-*'] });
    expect(await ssh('bob', 'releases', 'hello')).toMatchObject({ exitCode: 1, stderr: 'magrathea: bob has no access to app hello\n' });
    expect(await ssh('bob', 'rollback', 'shop-eu')).toMatchObject({ exitCode: 1, stderr: 'magrathea: bob may not rollback shop-eu\n' });
    expect(await ssh('bob', 'apps:create', 'shop-x')).toMatchObject({ exitCode: 1, stderr: 'magrathea: bob is not an admin\n' });
    const repo = await newRepo('bob-hello', 'hello');
    const push = await git(repo, 'bob', 'push', 'magrathea', 'master');
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toMatch(/bob has no access to app hello/);
  });

  it('usage through the gateway, readable by whoever may read the app', async () => {
    const usage = await ssh('admin', 'usage', 'hello', '--json');
    expect(usage.exitCode).toBe(0);
    expect(JSON.parse(usage.stdout)).toHaveProperty('app', 'hello');
    expect(await ssh('bob', 'usage', 'hello')).toMatchObject({ exitCode: 1, stderr: 'magrathea: bob has no access to app hello\n' });
    expect(await ssh('bob', 'usage', '--since', 'shop-eu', 'hello')).toMatchObject({ exitCode: 1, stderr: 'magrathea: bob has no access to app hello\n' });
  });

  it('rejects hostile arguments with usage errors', async () => {
    for (const line of ['releases x;id', 'releases ../etc', `releases ${'a'.repeat(41)}`, 'releases $(id)', "rollback 'hello\nx'"]) {
      const result = await ssh('admin', line);
      expect(result.exitCode).toBe(2);
    }
    expect((await ssh('admin', 'nosuch')).exitCode).toBe(3);
    // The command line's own option, and its own commands, do not exist over SSH.
    expect((await ssh('admin', 'releases', 'hello', '--config', '/tmp')).exitCode).toBe(2);
    for (const line of ['serve', 'hook pre-receive', 'lab down', 'deploy /tmp --app hello']) expect((await ssh('admin', line)).exitCode).not.toBe(0);
    expect((await ssh('admin', 'lab', 'down')).exitCode).toBe(3);
  });

  it('config:set / config:show / config:unset: secrets on the gateway, masked, applied by the next deploy', async () => {
    const set = await ssh('admin', 'config:set', 'hello@cluster-b', `"GREETING=Servus, it's $HOME"`, 'DB_PASSWORD=s3cret');
    expect(set.stderr).toBe('');
    expect(set.stdout).toMatch(/set GREETING, DB_PASSWORD for hello@cluster-b \(production\); applied by the next deploy: ssh magrathea deploy hello/);
    const shown = await ssh('admin', 'config:show', 'hello@cluster-b');
    expect(shown.stdout).toMatch(/^env\.DB_PASSWORD\s+"\*{8}"\s+config vars @cluster-b/m);
    expect(shown.stdout).not.toContain('s3cret');
    expect((await ssh('admin', 'config:show', 'hello@cluster-b', '--reveal')).stdout).toMatch(/^env\.DB_PASSWORD\s+"s3cret"/m);
    expect((await ssh('admin', 'config:show', 'hello')).stdout).toContain('DB_PASSWORD=********  (@cluster-b)');
    // A page that shows the variable, pushed: the deploy applies the vars.
    const repo = join(work, 'one');
    await git(repo, 'admin', 'fetch', '-q', 'magrathea');
    await git(repo, 'admin', 'reset', '-q', '--hard', 'magrathea/master');
    await writeFile(join(repo, 'public/greeting.php'), '<?php echo getenv("GREETING"), "\\n";');
    await git(repo, 'admin', 'add', '-A');
    await git(repo, 'admin', 'commit', '-q', '-m', 'greeting page');
    expect((await git(repo, 'admin', 'push', 'magrathea', 'master')).exitCode).toBe(0);
    expect((await curl(`${edge('cluster-b')}/greeting.php`, 'hello.example.net')).body).toBe("Servus, it's $HOME\n");
    expect((await curl(`${edge('cluster-a')}/greeting.php`, 'hello.example.com')).body).toBe('Hello from cluster-a\n');
    // Refused whole, nothing set: a newline cannot reach a config file.
    const bad = await ssh('admin', 'config:set', 'hello', '"A=1"', '"B=x\ny"');
    expect(bad.exitCode).toBe(2);
    expect((await ssh('admin', 'config:show', 'hello', '--reveal', '--json')).stdout).not.toContain('"A"');
    expect((await ssh('admin', 'config:unset', 'hello@cluster-b', 'GREETING')).exitCode).toBe(0);
    expect((await ssh('admin', 'deploy', 'hello')).exitCode).toBe(0);
    expect((await curl(`${edge('cluster-b')}/greeting.php?again`, 'hello.example.net')).body).toBe('Hallo from cluster-b\n');
    expect(await ssh('bob', 'config:show', 'shop-eu')).toMatchObject({ exitCode: 1, stderr: 'magrathea: bob may not config shop-eu\n' });
  });

  it('apps:destroy asks for the app name', async () => {
    expect((await ssh('admin', 'apps:create', 'doomed')).exitCode).toBe(0);
    const refused = await run('ssh', [...sshCommand('admin').slice(1), 'git@127.0.0.1', 'apps:destroy', 'doomed'], { input: 'nope\n', reject: false });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/type the app's name \(doomed\) to destroy it: apps:destroy: not confirmed/);
    const done = await run('ssh', [...sshCommand('admin').slice(1), 'git@127.0.0.1', 'apps:destroy', 'doomed'], { input: 'doomed\n', reject: false });
    expect(done.exitCode).toBe(0);
    expect((await ssh('admin', 'apps:list')).stdout).not.toContain('doomed');
  });

  it('doctor: every host as deployed; a hand-edited vhost named with its host and file, then put back by --fix through the queue; admins only', async () => {
    const clean = await ssh('admin', 'doctor');
    expect(clean).toMatchObject({ exitCode: 0, stderr: '' });
    expect(clean.stdout).toMatch(/^cluster-a: 2 hosts, \d+ instances, \d+ files: as deployed\ncluster-b: 2 hosts, \d+ instances, \d+ files: as deployed\n$/);
    const vhost = '/etc/apache2/magrathea.d/hello.production.conf';
    const before = (await sshRun(lab, 'b-web-1', ['cat', vhost])).stdout;
    await sshRun(lab, 'b-web-1', ['sh', '-c', 'echo "# edited by hand" >> "$1"', 'sh', vhost]);
    const drift = await ssh('admin', 'doctor');
    expect(drift.exitCode).toBe(1);
    expect(drift.stdout).toMatch(/^cluster-b\/b-web-1\s+changed\s+\/etc\/apache2\/magrathea\.d\/hello\.production\.conf\s+differs from what the gateway renders/m);
    expect(drift.stderr).toBe('doctor: 1 difference(s)\n');
    const fix = await ssh('admin', 'doctor', '--cluster', 'cluster-b', '--fix');
    expect(fix.stdout).toMatch(/^applied again: hello\.production@cluster-b r\d+: done$/m);
    expect(fix.stdout).toMatch(/^cluster-b: 2 hosts, \d+ instances, \d+ files: as deployed$/m);
    expect(fix.exitCode).toBe(0);
    expect((await sshRun(lab, 'b-web-1', ['cat', vhost])).stdout).toBe(before);
    expect((await curl(edge('cluster-b'), 'hello.example.net')).status).toBe(200);
    expect((await ssh('bob', 'doctor')).exitCode).toBe(1);

    // A host that no longer provides what deploys rely on (Puppet put Debian's php-fpm.conf back): named, and left to the host's owner.
    const fpmConf = '/etc/php/8.2/fpm/php-fpm.conf';
    const conf = (await sshRun(lab, 'a-web-1', ['cat', fpmConf])).stdout;
    await sshRun(lab, 'a-web-1', ['sed', '-i', 's/^process_control_timeout = .*/process_control_timeout = 0/', fpmConf]);
    try {
      const requirement = await ssh('admin', 'doctor', '--cluster', 'cluster-a', '--fix');
      expect(requirement.exitCode).toBe(1);
      expect(requirement.stdout).toMatch(/^cluster-a\/a-web-1\s+requirement\s+PHP-FPM 8\.2\s+PHP-FPM 8\.2 has process_control_timeout = 0s: its reload at the switch would kill the requests in flight/m);
      expect(requirement.stdout).toMatch(/--fix does not touch them/);
      expect(requirement.stdout).not.toMatch(/applied again/);
      // status --check (what monitoring runs) says so until a doctor finds the cluster as deployed again.
      const checked = await ssh('admin', 'status', '--check');
      expect(checked.exitCode).toBe(1);
      expect(checked.stdout).toMatch(/^ {2}- cluster-a: the last doctor \(\S+\) found 1 difference\(s\): magrathea doctor --cluster cluster-a names them$/m);
    } finally {
      await sshRun(lab, 'a-web-1', ['sh', '-c', 'cat > "$1"', 'sh', fpmConf], { input: conf });
    }
    expect((await ssh('admin', 'doctor', '--cluster', 'cluster-a')).exitCode).toBe(0);
  });

  it('status: the workers serve started, the accounting job and its visits, problems named; admins only', async () => {
    type Status = { deploy: { workers: string[] }; accounting: { workers: string[]; intervalSeconds: number }; hosts: { cluster: string; host: string; visitedAt?: string }[]; problems: string[] };
    // serve scheduled the accounting job at start: its first run visits every host.
    let status: Status | undefined;
    for (let i = 0; i < 60 && !(status?.hosts.every((h) => h.visitedAt)); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 500));
      const shown = await ssh('admin', 'status', '--json');
      expect(shown.exitCode).toBe(0);
      status = JSON.parse(shown.stdout) as Status;
    }
    expect(status!.deploy.workers).toHaveLength(1);
    expect(status!.accounting.workers).toHaveLength(1);
    expect(status!.hosts.map((h) => `${h.cluster}/${h.host}`).sort()).toEqual(['cluster-a/a-edge', 'cluster-a/a-web-1', 'cluster-b/b-edge', 'cluster-b/b-web-1']);
    expect(status!.hosts.every((h) => h.visitedAt)).toBe(true);
    expect(status!.problems).toEqual([]);
    expect((await ssh('admin', 'status', '--check')).stdout).toMatch(/^deploys {5}1 worker\(s\)[\s\S]*^doctor {6}cluster-a: last run \S+: as deployed$[\s\S]*no problems$/m);
    expect((await ssh('bob', 'status')).exitCode).toBe(1);
  });

  it('records every command and push in an audit log only admins read', async () => {
    const audit = JSON.parse((await ssh('admin', 'audit', '-n', '200', '--json')).stdout) as { user: string; command: string; exitCode: number }[];
    expect(audit.some((e) => e.user === 'admin' && e.command === "git-receive-pack '/hello.git'" && e.exitCode === 0)).toBe(true);
    expect(audit.some((e) => e.user === 'bob' && e.command === 'apps:create shop-x' && e.exitCode === 1)).toBe(true);
    // config:set was audited, its values were not.
    expect(audit.some((e) => e.command.startsWith('config:set hello@cluster-b GREETING=******** DB_PASSWORD=********'))).toBe(true);
    expect(JSON.stringify(audit)).not.toContain('s3cret');
    expect((await ssh('bob', 'audit')).exitCode).toBe(1);
  });
});

describe('the HTTP API', () => {
  const tokens: Record<string, string> = {};
  async function call(who: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
    const headers: Record<string, string> = who ? { Authorization: `Bearer ${tokens[who] ?? who}` } : {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(`${api}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(180_000) });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, json, text };
  }
  /** A stream's JSON lines. */
  type StreamObject = { stdout?: string; stderr?: string; exit?: number; result?: unknown; event?: { phase: string; status: string; cluster?: string; host?: string; release?: string; elapsedMs: number; line?: false } };
  const events = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as StreamObject);

  beforeAll(async () => {
    for (const who of ['admin', 'bob']) {
      const created = await ssh(who, 'tokens:create', '--label', `"${who} laptop"`, '--json');
      expect(created.exitCode).toBe(0);
      tokens[who] = (JSON.parse(created.stdout) as { token: string }).token;
    }
  });

  it('answers only a valid token, and never shows one again', async () => {
    expect((await call(undefined, 'GET', '/v1/apps')).status).toBe(401);
    expect((await call(`mg_${'A'.repeat(43)}`, 'GET', '/v1/apps')).status).toBe(401);
    expect(await call('admin', 'GET', '/v1/apps')).toMatchObject({ status: 200, json: ['hello', 'shop-eu'] });
    const listed = (await call('admin', 'GET', '/v1/tokens')).json as { id: string; label: string }[];
    expect(listed).toEqual([expect.objectContaining({ label: 'admin laptop' })]);
    expect(JSON.stringify(listed)).not.toContain(tokens.admin!.slice(3));
  });

  it('gives the same operations as ssh: releases, usage, config, deploy streamed, rollback', async () => {
    const releases = (await call('admin', 'GET', '/v1/apps/hello/releases')).json as { id: string; status: string }[];
    expect(releases[0]).toMatchObject({ status: 'live' });
    expect(releases).toEqual(JSON.parse((await ssh('admin', 'releases', 'hello', '--json')).stdout));
    const info = (await call('admin', 'GET', '/v1/apps/hello')).json as { app: string; live: Record<string, string>; releases: unknown[] };
    expect(info).toMatchObject({ app: 'hello', releases });
    expect(Object.keys(info.live).sort()).toEqual(['production@cluster-a', 'production@cluster-b']);
    expect((await call('admin', 'GET', '/v1/apps/hello/usage?since=7d')).status).toBe(200);

    const value = `Grüezi "x" $y \\ 'z'`;
    expect(await call('admin', 'PATCH', '/v1/apps/hello/config?cluster=cluster-b', { GREETING: value, GONE: 'soon' })).toMatchObject({ status: 200 });
    expect(await call('admin', 'PATCH', '/v1/apps/hello/config?cluster=cluster-b', { GONE: null })).toMatchObject({ status: 200 });
    const shown = JSON.stringify((await call('admin', 'GET', '/v1/apps/hello/config?cluster=cluster-b&reveal=1')).json);
    expect(shown).toContain(JSON.stringify(value).slice(1, -1));
    expect(shown).not.toContain('GONE');
    // config:diff: the var set for cluster-b differs from cluster-a's (the manifest's), masked; both clusters must be named.
    const diff = await call('admin', 'GET', '/v1/apps/hello/config/diff?a=cluster-a&b=cluster-b');
    expect(diff.status).toBe(200);
    expect((diff.json as { differences: { path: string; sides: ({ value: unknown; layer: string } | null)[] }[] }).differences.find((d) => d.path === 'env.GREETING')!.sides.map((side) => side && [side.value, side.layer])).toEqual([
      ['Hello from cluster-a', 'base'],
      ['********', 'config vars @cluster-b'],
    ]);
    expect((await call('admin', 'GET', '/v1/apps/hello/config/diff?a=cluster-a')).status).toBe(400);
    expect(await call('admin', 'GET', '/v1/doctor?cluster=cluster-a')).toMatchObject({ status: 200, json: { ok: true } });

    // The deploy as Server-Sent Events: its lines, its structured events in order, then its result on each cluster.
    const deploy = await fetch(`${api}/v1/apps/hello/deploy`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.admin}`, 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: '{}',
      signal: AbortSignal.timeout(180_000),
    });
    expect([deploy.status, deploy.headers.get('content-type')]).toEqual([200, 'text/event-stream; charset=utf-8']);
    const sse = (await deploy.text()).split('\n\n').filter(Boolean);
    expect(sse.every((chunk) => /^data: [^\n]+$/.test(chunk))).toBe(true);
    const lines = sse.map((chunk) => JSON.parse(chunk.slice('data: '.length)) as StreamObject);
    expect(lines.some((l) => /cluster-a: preparing 2 hosts/.test(l.stdout ?? ''))).toBe(true);
    expect(lines.at(-1)).toEqual({ exit: 0 });
    const result = lines.at(-2)!.result as { summary: string; release: string; clusters: { cluster: string; status: string; serving: string }[] };
    expect(result.clusters.map((c) => [c.cluster, c.status, c.serving])).toEqual([['cluster-a', 'live', result.release], ['cluster-b', 'live', result.release]]);
    // Each object as the OpenAPI document describes it, the result as a DeployResult.
    const { components } = JSON.parse(JSON.stringify(openApiDocument())) as { components: object };
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const asDocumented = (schema: string) => ajv.compile({ $ref: `#/components/schemas/${schema}`, components });
    const validLine = asDocumented('StreamLine');
    expect(lines.filter((l) => !validLine(l))).toEqual([]);
    expect(asDocumented('DeployResult')(result)).toBe(true);
    const deployEvents = lines.flatMap((l) => (l.event ? [l.event] : []));
    // Every line the terminal shows is an event's, but the command's own first one and the summary table; each host's end of a step is an event without a line.
    const summary = result.summary.trimEnd().split('\n');
    expect(lines.filter((l) => l.stdout !== undefined && !l.event).map((l) => l.stdout)).toEqual([expect.stringMatching(/^deploy \d+: hello \(production\) at [0-9a-f]{12}$/), ...summary]);
    expect(lines.filter((l) => l.event?.line === false && l.stdout !== undefined)).toEqual([]);
    expect(deployEvents.map((e) => e.elapsedMs)).toEqual(deployEvents.map((e) => e.elapsedMs).sort((a, b) => a - b));
    expect(deployEvents.filter((e) => e.cluster).every((e) => e.release === result.release)).toBe(true);
    for (const [cluster, prefix] of [['cluster-a', 'a'], ['cluster-b', 'b']] as const) {
      const mine = deployEvents.filter((e) => e.cluster === cluster);
      const at = (phase: string, status: string, host?: string) => mine.findIndex((e) => e.phase === phase && e.status === status && e.host === host);
      // This lab has one web host per cluster.
      const host = `${prefix}-web-1`;
      const steps = { send: at('send', 'started'), prepare: at('prepare', 'started'), check: at('check', 'done', host), switch: at('switch', 'started'), activate: at('activate', 'done', host), verify: at('verify', 'done', host), live: at('verify', 'done') };
      expect([cluster, Object.entries(steps).filter(([, i]) => i < 0)]).toEqual([cluster, []]);
      expect(Object.values(steps)).toEqual(Object.values(steps).sort((a, b) => a - b));
    }
    expect((await curl(`${edge('cluster-b')}/greeting.php?api`, 'hello.example.net')).body).toBe(`${value}\n`);

    const rollback = await call('admin', 'POST', '/v1/apps/hello/rollback', { cluster: 'cluster-b' });
    expect(events(rollback.text).at(-1)).toEqual({ exit: 0 });
    expect((await curl(`${edge('cluster-b')}/greeting.php?back`, 'hello.example.net')).body).not.toBe(`${value}\n`);
    expect((await call('admin', 'POST', '/v1/run', { argv: ['releases', 'hello'] })).text).toMatch(/"stdout":"production +r\d+ /);
  }, 240_000);

  it('keeps members to their apps and verbs, and says which status went wrong', async () => {
    expect(await call('bob', 'GET', '/v1/apps')).toMatchObject({ status: 200, json: ['shop-eu'] });
    // Any command through /v1/run, as its caller; the command line's own are not there.
    const who = events((await call('bob', 'POST', '/v1/run', { argv: ['whoami', '--json'] })).text);
    expect(JSON.parse(who.flatMap((l) => (l.stdout === undefined ? [] : [l.stdout])).join('\n'))).toMatchObject({ user: 'bob', role: 'member' });
    expect((await call('admin', 'POST', '/v1/run', { argv: ['lab', 'down'] })).status).toBe(404);
    expect((await call('admin', 'POST', '/v1/run', { argv: ['releases', 'hello', '--config', '/tmp'] })).status).toBe(400);
    expect(await call('bob', 'GET', '/v1/apps/hello/releases')).toMatchObject({ status: 403, json: { error: 'magrathea: bob has no access to app hello' } });
    expect((await call('bob', 'POST', '/v1/apps/shop-eu/rollback', {})).status).toBe(403);
    expect((await call('bob', 'PATCH', '/v1/apps/shop-eu/config', { A: '1' })).status).toBe(403);
    expect((await call('admin', 'GET', '/v1/apps/nope/releases')).status).toBe(404);
    expect((await call('bob', 'GET', '/v1/apps/shop-nope/releases')).status).toBe(404);
    expect((await call('admin', 'GET', '/v1/nothing')).status).toBe(404);
    expect((await call('admin', 'PUT', '/v1/apps')).status).toBe(405);
    expect((await call('admin', 'GET', '/v1/apps/hello/usage?since=7d;id')).status).toBe(400);
    // Refused whole: nothing set when one of the vars is bad.
    const bad = await call('admin', 'PATCH', '/v1/apps/hello/config', { OK: 'fine', 'A;B': 'x', C: 'new\nline' });
    expect(bad.status).toBe(400);
    expect((bad.json as { error: string }).error).toMatch(/A;B: .*; C: /);
    expect(JSON.stringify((await call('admin', 'GET', '/v1/apps/hello/config?reveal=1')).json)).not.toContain('fine');
    const raw = await fetch(`${api}/v1/apps/hello/config`, { method: 'PATCH', headers: { Authorization: `Bearer ${tokens.admin}`, 'Content-Type': 'text/plain' }, body: 'A=1' });
    expect(raw.status).toBe(415);
  });

  it('scoped tokens: a releases token reads but may not deploy (403) nor make a wider token; a scope a member lacks is refused', async () => {
    const releasesOnly = JSON.parse((await ssh('admin', 'tokens:create', '--scope', 'releases', '--label', 'reader', '--json')).stdout) as { token: string; scopes: string[] };
    expect(releasesOnly.scopes).toEqual(['read']);
    const headers = { Authorization: `Bearer ${releasesOnly.token}`, 'Content-Type': 'application/json' };
    expect((await fetch(`${api}/v1/apps/hello/releases`, { headers })).status).toBe(200);
    const deploy = await fetch(`${api}/v1/apps/hello/deploy`, { method: 'POST', headers, body: '{}' });
    expect(deploy.status).toBe(403);
    expect(((await deploy.json()) as { error: string }).error).toBe('magrathea: this token is scoped to read: deploy needs the deploy scope');
    const wider = await fetch(`${api}/v1/run`, { method: 'POST', headers, body: JSON.stringify({ argv: ['tokens:create'] }) });
    expect(wider.status).toBe(403);
    expect((await ssh('admin', 'tokens:list')).stdout).toMatch(/reader +scoped to read\n/);
    const member = await ssh('bob', 'tokens:create', '--scope', 'deploy,config');
    expect(member).toMatchObject({ exitCode: 2, stderr: 'tokens:create: --scope config: bob may not config (users.yml)\n' });
    expect((await ssh('admin', 'tokens:create', '--scope', 'deploy,root')).stderr).toMatch(/--scope: "root" is not a scope; scopes: read, deploy/);
  });

  it('git over HTTP with a token as the password: clone with a read token; a wrong, expired or read-only token stores nothing; a bad manifest is rejected with file:line:col; a deploy token pushes, deploys and is served', async () => {
    const token = async (...args: string[]) => (JSON.parse((await ssh('admin', 'tokens:create', ...args, '--json')).stdout) as { token: string }).token;
    const [reader, deployer, brief] = [await token('--scope', 'releases'), await token('--scope', 'deploy', '--expires', '1h'), await token('--expires', '1s')];
    const remote = (secret: string) => `${api.replace('http://', `http://ci:${secret}@`)}/hello.git`;
    const repo = join(work, 'over-http');
    const httpGit = (...args: string[]) => run('git', ['-c', 'credential.helper=', '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { reject: false, timeout: 180_000, env: { GIT_TERMINAL_PROMPT: '0' } });
    const cloned = await httpGit('clone', '-q', remote(reader), repo);
    expect(cloned).toMatchObject({ exitCode: 0 });
    const live = (await httpGit('-C', repo, 'rev-parse', 'HEAD')).stdout.trim();
    const atRemote = async () => (await httpGit('-C', repo, 'ls-remote', remote(reader), 'refs/heads/master')).stdout.split('\t')[0];
    expect(await atRemote()).toBe(live);
    // A member sees nothing of an app that is not theirs; no token, no refs; only the smart protocol's paths are served.
    const stranger = await httpGit('clone', '-q', remote(tokens.bob!), join(work, 'not-bobs'));
    expect(stranger.exitCode).not.toBe(0);
    expect(stranger.stderr).toMatch(/remote: magrathea: bob has no access to app hello/);
    expect((await fetch(`${api}/hello.git/info/refs?service=git-upload-pack`)).status).toBe(401);
    for (const path of ['/hello.git/info/refs', '/hello.git/HEAD', '/hello.git/objects/info/packs', '/..%2fhello.git/info/refs?service=git-upload-pack', '/Hello.git/info/refs?service=git-upload-pack']) {
      expect([path, (await fetch(`${api}${path}`, { headers: { Authorization: `Bearer ${reader}` } })).status]).toEqual([path, 404]);
    }

    await writeFile(join(repo, 'public/http.php'), '<?php echo "pushed over http\\n";');
    await httpGit('-C', repo, 'add', '-A');
    await httpGit('-C', repo, 'commit', '-q', '-m', 'over http');
    const wrong = await httpGit('-C', repo, 'push', remote(`mg_${'B'.repeat(43)}`), 'master');
    expect(wrong.exitCode).not.toBe(0);
    expect(wrong.stderr).toMatch(/remote: magrathea: this token is not valid \(revoked, or never made\)/);
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await httpGit('-C', repo, 'push', remote(brief), 'master')).stderr).toMatch(/remote: magrathea: token \w+ expired at /);
    const readOnly = await httpGit('-C', repo, 'push', remote(reader), 'master');
    expect(readOnly.exitCode).not.toBe(0);
    expect(readOnly.stderr).toMatch(/remote: magrathea: this token is scoped to read: push needs the deploy scope/);
    expect(readOnly.stderr).toMatch(/403/);
    expect(await atRemote()).toBe(live);

    const manifest = join(repo, 'magrathea.yml');
    const good = await readFile(manifest, 'utf8');
    await writeFile(manifest, good.replace('ttl: 60s', 'ttl: soon'));
    await httpGit('-C', repo, 'commit', '-q', '-am', 'bad ttl');
    const bad = await httpGit('-C', repo, 'push', remote(deployer), 'master');
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/remote: magrathea\.yml:\d+:\d+: cache\.ttl: "soon" is not a duration/);
    expect(bad.stderr).toMatch(/\[remote rejected\] master -> master \(pre-receive hook declined\)/);
    expect(await atRemote()).toBe(live);

    await writeFile(manifest, good);
    await httpGit('-C', repo, 'commit', '-q', '-am', 'good ttl');
    const pushed = await httpGit('-C', repo, 'push', remote(deployer), 'master');
    expect(pushed.exitCode).toBe(0);
    expect(pushed.stderr).toMatch(/remote: cluster-a\s+live\s+r\d+/);
    expect(pushed.stderr).toMatch(/remote: cluster-b\s+live\s+r\d+/);
    expect(await atRemote()).toBe((await httpGit('-C', repo, 'rev-parse', 'HEAD')).stdout.trim());
    expect((await curl(`${edge('cluster-a')}/http.php`, 'hello.example.com')).body).toBe('pushed over http\n');
    // Recorded as a push of admin's, from the HTTP listener.
    expect((await ssh('admin', 'audit', '-n', '40')).stdout).toMatch(/admin .*git-receive-pack hello\.git \(http\)/);
  }, 300_000);

  it('the command line on another machine: another user logs in, the app comes from the git remote, releases, config:set, deploy and logs -f go through the API with their exit codes', async () => {
    // Another user (nobody), with a home of its own: nothing of root's configuration or keys.
    const home = await mkdtemp(join(tmpdir(), 'magrathea-client-'));
    await run('chown', ['65534:65534', home]);
    try {
      const env = ['env', '-i', `HOME=${home}`, `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`];
      const as = (argv: string[], options: { cwd?: string; input?: string } = {}) =>
        run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...env, ...(options.cwd ? ['sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', options.cwd] : []), ...argv], { reject: false, timeout: 180_000, ...(options.input !== undefined ? { input: options.input } : {}) });
      const magrathea = (args: string[], cwd?: string, input?: string) => as([process.execPath, CLIENT, ...args], { ...(cwd ? { cwd } : {}), ...(input !== undefined ? { input } : {}) });
      const secret = (JSON.parse((await ssh('admin', 'tokens:create', '--label', 'laptop', '--json')).stdout) as { token: string }).token;

      expect(await magrathea(['login', api], undefined, 'not-a-token\n')).toMatchObject({ exitCode: 2, stderr: expect.stringMatching(/login: give the token on stdin/) });
      expect(await magrathea(['login', api], undefined, `mg_${'C'.repeat(43)}\n`)).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/this token is not valid.*nothing kept/) });
      const loggedIn = await magrathea(['login', api], undefined, `${secret}\n`);
      expect(loggedIn).toMatchObject({ exitCode: 0, stdout: `logged in to ${api} as admin (kept in ${home}/.config/magrathea/login.json, readable by you only)\n` });
      expect(((await stat(join(home, '.config/magrathea/login.json'))).mode & 0o777).toString(8)).toBe('600');

      // A clone of the app, its remote on the gateway: the app is found from it.
      const repo = join(home, 'hello');
      expect((await as(['git', 'clone', '-q', `${api.replace('http://', `http://laptop:${secret}@`)}/hello.git`, repo])).exitCode).toBe(0);
      await as(['git', '-C', repo, 'remote', 'add', 'magrathea', `${api}/hello.git`]);
      const releases = await magrathea(['releases', '--json'], repo);
      expect(releases).toMatchObject({ exitCode: 0, stderr: '' });
      expect(JSON.parse(releases.stdout)).toEqual(JSON.parse((await ssh('admin', 'releases', 'hello', '--json')).stdout));
      expect(await magrathea(['config:set', '@cluster-a', 'FROM_LAPTOP=yes'], repo)).toMatchObject({ exitCode: 0, stderr: '' });
      const deployed = await magrathea(['deploy'], repo);
      expect(deployed.exitCode).toBe(0);
      expect(`${deployed.stdout}${deployed.stderr}`).toMatch(/cluster-a\s+live\s+r\d+/);
      expect((await ssh('admin', 'config:show', 'hello@cluster-a')).stdout).toMatch(/FROM_LAPTOP/);

      // logs -f follows until stopped: a request through the edge shows up in it.
      const follower = start('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...env, 'sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', repo, process.execPath, CLIENT, 'logs', '@cluster-a', '-f', '-n', '0'], { detached: true });
      let followed = '';
      follower.stdout!.on('data', (d: Buffer) => void (followed += String(d)));
      try {
        await waitFor('a request in the followed logs', async () => {
          // Each a new URL: a cached page would not reach the web host's log.
          await curl(`${edge('cluster-a')}/?from-laptop-${Date.now()}`, 'hello.example.com');
          return followed.includes('from-laptop');
        }, 60_000, async () => followed);
      } finally {
        process.kill(-follower.pid!, 'SIGTERM');
        await follower.catch(() => undefined);
      }

      // Exit codes as on the gateway; what needs a terminal or bytes says to use SSH; local tools run here.
      expect((await magrathea(['no-such-command'], repo)).exitCode).toBe(3);
      expect(await magrathea(['releases', '-a', 'nope'], repo)).toMatchObject({ exitCode: (await ssh('admin', 'releases', 'nope')).exitCode, stderr: expect.stringMatching(/no app nope/) });
      expect(await magrathea(['shell', '@cluster-a'], repo)).toMatchObject({ exitCode: 2, stderr: 'magrathea shell: runs over SSH only: ssh magrathea shell hello@cluster-a\n' });
      expect(await magrathea(['validate'], repo)).toMatchObject({ exitCode: 0 });
      expect(await magrathea(['logout'])).toMatchObject({ exitCode: 0, stdout: `logged out of ${api}\n` });
      expect((await magrathea(['releases'], repo)).exitCode).not.toBe(0);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 300_000);

  it('answers every operation of /v1/openapi.json as it documents it, and nothing undocumented', async () => {
    const served = await fetch(`${api}/v1/openapi.json`);
    expect(served.status).toBe(200);
    const doc = (await served.json()) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>; components: object };
    expect(doc).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    /** The documented answer for this status and type, or a reason it is not documented. */
    const check = (method: string, template: string, status: number, type: string, text: string): string[] => {
      const answer = doc.paths[template]?.[method.toLowerCase()]?.responses[String(status)];
      if (!answer) return [`${method} ${template}: ${status} is not documented (${text.slice(0, 200)})`];
      const media = answer.content?.[type.split(';')[0]!.trim()];
      if (!media) return [`${method} ${template}: ${status} answered ${type}, not documented`];
      const validate = ajv.compile({ ...media.schema, components: doc.components });
      const bodies = type.startsWith('application/x-ndjson')
        ? text.trim().split('\n').map((l) => JSON.parse(l) as unknown)
        : type.startsWith('text/event-stream')
          ? text.trim().split('\n\n').map((event) => JSON.parse(/^data: (.*)$/.exec(event)![1]!) as unknown)
          : [JSON.parse(text) as unknown];
      return bodies.flatMap((b) => (validate(b) ? [] : [`${method} ${template} ${status}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(b).slice(0, 200)}`]));
    };
    // A deploy job of hello (its last release's), followed again from its record.
    const job = ((await call('admin', 'GET', '/v1/apps/hello/releases')).json as { jobId?: string }[]).find((r) => r.jobId)?.jobId;
    expect(job).toMatch(/^[0-9]+$/);
    const calls: [method: string, template: string, path: string, body?: unknown, accept?: string][] = [
      ['GET', '/v1/apps', '/v1/apps'],
      ['POST', '/v1/apps', '/v1/apps', { name: 'contract' }],
      ['GET', '/v1/apps/{app}', '/v1/apps/hello'],
      ['DELETE', '/v1/apps/{app}', '/v1/apps/contract?confirm=contract'],
      ['GET', '/v1/apps/{app}/releases', '/v1/apps/hello/releases'],
      ['GET', '/v1/apps/{app}/usage', '/v1/apps/hello/usage?since=1d'],
      ['GET', '/v1/apps/{app}/config', '/v1/apps/hello/config?cluster=cluster-a'],
      ['PATCH', '/v1/apps/{app}/config', '/v1/apps/hello/config', { CONTRACT: null }],
      ['GET', '/v1/apps/{app}/config/diff', '/v1/apps/hello/config/diff?a=cluster-a&b=cluster-b'],
      ['GET', '/v1/apps/{app}/config/diff', '/v1/apps/hello/config/diff?a=cluster-a'],
      // A ref that does not exist and a release that does not: streams that end with a failure, before any host is touched.
      ['POST', '/v1/apps/{app}/deploy', '/v1/apps/hello/deploy', { ref: 'no-such-ref' }],
      ['POST', '/v1/apps/{app}/rollback', '/v1/apps/hello/rollback', { release: 'r999' }],
      ['GET', '/v1/apps/{app}/logs', '/v1/apps/hello/logs?n=1&cluster=cluster-a'],
      ['GET', '/v1/apps/{app}/deploys', '/v1/apps/hello/deploys'],
      ['GET', '/v1/apps/{app}/deploys/{id}', `/v1/apps/hello/deploys/${job}`],
      ['GET', '/v1/apps/{app}/deploys/{id}', `/v1/apps/hello/deploys/${job}`, undefined, 'text/event-stream'],
      ['GET', '/v1/apps/{app}/deploys/{id}', '/v1/apps/hello/deploys/999999'],
      ['GET', '/v1/apps/{app}/deploys/{id}', '/v1/apps/hello/deploys/1%3Bid'],
      // hello has no database: the command fails (422).
      ['GET', '/v1/apps/{app}/db', '/v1/apps/hello/db'],
      ['GET', '/v1/apps/{app}/releases', '/v1/apps/no-such-app/releases'],
      ['GET', '/v1/audit', '/v1/audit?n=3'],
      ['GET', '/v1/tokens', '/v1/tokens'],
      ['GET', '/v1/status', '/v1/status'],
      ['GET', '/v1/doctor', '/v1/doctor?cluster=cluster-a'],
      ['POST', '/v1/run', '/v1/run', { argv: ['whoami'] }],
      ['POST', '/v1/run', '/v1/run', { argv: ['releases', 'hello'] }, 'text/event-stream'],
      ['POST', '/v1/run', '/v1/run', { nothing: true }],
    ];
    const problems: string[] = [];
    const asked = new Set<string>();
    for (const [method, template, path, body, accept] of calls) {
      asked.add(`${method} ${template}`);
      const headers = { Authorization: `Bearer ${tokens.admin}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(accept ? { Accept: accept } : {}) };
      const response = await fetch(`${api}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
      const type = response.headers.get('content-type') ?? '';
      if (accept) expect([path, accept, type]).toEqual([path, accept, `${accept}; charset=utf-8`]);
      problems.push(...check(method, template, response.status, type, await response.text()));
      // Without a token: 401, as documented.
      const bare = await fetch(`${api}${path}`, { method });
      problems.push(...check(method, template, bare.status, bare.headers.get('content-type') ?? '', await bare.text()));
    }
    expect(problems).toEqual([]);
    // Every documented operation was asked.
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).filter((k) => k !== 'parameters').map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.filter((o) => !asked.has(o) && o !== 'GET /v1/openapi.json')).toEqual([]);
    // Nothing answers outside the document but git's paths.
    for (const path of ['/v1', '/v1/apps/hello/secrets', '/v2/apps', '/openapi.json']) expect([path, (await fetch(`${api}${path}`, { headers: { Authorization: `Bearer ${tokens.admin}` } })).status]).toEqual([path, 404]);
  }, 240_000);

  it('forgets a revoked token at once', async () => {
    const { id } = ((await call('bob', 'GET', '/v1/tokens')).json as { id: string }[])[0]!;
    expect((await ssh('bob', 'tokens:revoke', id!)).exitCode).toBe(0);
    expect((await call('bob', 'GET', '/v1/apps')).status).toBe(401);
    expect((await ssh('bob', 'tokens:revoke', id!)).exitCode).toBe(2);
  });
});

describe('a cluster taken out of magrathea.yml', () => {
  it('stays served until instances:remove takes it off (asked for the app name, refused while still listed); the push that left it says so', async () => {
    const repo = await newRepo('shop-eu', 'shop-eu');
    expect((await git(repo, 'admin', 'push', 'magrathea', 'master')).stderr).toMatch(/cluster-b\s+live/);
    const manifest = join(repo, 'magrathea.yml');
    // cluster-b out of production, and its layer with it (a layer for a cluster no environment lists is refused as a typo).
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('clusters: [cluster-a, cluster-b]', 'clusters: [cluster-a]').split('\nclusters:\n')[0]!);
    await git(repo, 'admin', 'commit', '-q', '-am', 'cluster-a only');
    const narrowed = await git(repo, 'admin', 'push', 'magrathea', 'master');
    if (narrowed.exitCode !== 0) throw new Error(narrowed.stderr);
    expect(narrowed.stderr).toMatch(/remote: warning: shop-eu \(production\) is still live on cluster-b, which magrathea\.yml no longer lists for production: an admin takes it off with "magrathea instances:remove shop-eu@cluster-b --env production"/);
    expect((await curl(edge('cluster-b'), 'shop-eu.example.net')).status).toBe(200);

    expect(await ssh('admin', 'instances:remove', 'shop-eu@cluster-a', '--confirm', 'shop-eu')).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/still lists cluster-a for production: take it out there and push first/) });
    const unconfirmed = await run('ssh', [...sshCommand('admin').slice(1), 'git@127.0.0.1', 'instances:remove', 'shop-eu@cluster-b'], { input: 'shop\n', reject: false });
    expect(unconfirmed).toMatchObject({ exitCode: 2, stderr: expect.stringMatching(/type the app's name \(shop-eu\) to take production off cluster-b: instances:remove: not confirmed; nothing removed/) });
    expect((await ssh('bob', 'instances:remove', 'shop-eu@cluster-b', '--confirm', 'shop-eu')).exitCode).toBe(1);
    expect((await curl(edge('cluster-b'), 'shop-eu.example.net')).status).toBe(200);
    const removed = await ssh('admin', 'instances:remove', 'shop-eu@cluster-b', '--confirm', 'shop-eu');
    expect(removed).toMatchObject({ exitCode: 0 });
    expect(removed.stdout).toMatch(/shop-eu \(production\) is no longer on cluster-b/);
    expect((await curl(edge('cluster-b'), 'shop-eu.example.net')).status).toBe(404);
    expect((await sshRun(lab, 'b-web-1', ['test', '-e', '/var/www/magrathea/shop-eu/production'], { reject: false })).exitCode).toBe(1);
    expect((await curl(edge('cluster-a'), 'shop-eu.example.com')).status).toBe(200);
    const info = JSON.parse((await ssh('admin', 'apps:info', 'shop-eu', '--json')).stdout) as { live: Record<string, unknown> };
    expect(Object.keys(info.live)).toEqual(['production@cluster-a']);
  }, 300_000);
});
