import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { hostSshSettings } from '../../src/deployer/deploy.js';
import { buildRelease, exportTree } from '../../src/builder/build-release.js';
import type { GatewayConfig } from '../../src/core/config/types.js';
import { deploy } from '../../src/deployer/deploy.js';
import type { DeployState } from '../../src/deployer/types.js';
import { undeployCluster } from '../../src/deployer/undeploy-cluster.js';
import { labDown } from '../../src/lab/down.js';
import type { LabStatus } from '../../src/lab/status.js';
import { readApp } from '../../src/builder/manifest.js';
import { sshRun, useOwnLab } from '../helpers/lab.js';
import { openDeployHarness, type DeployHarness } from '../helpers/deploy-trees.js';

/**
 * Two apps on one cluster's session store, each a tenant that reads its own
 * credentials (session.save_path) and tries everything it can with them
 * against the other's sessions. A lab of its own (one cluster).
 */
let lab: LabStatus;
let config: GatewayConfig;
let harness: DeployHarness;
let state: DeployState;
let work: string;

const MANIFEST = `stack: { php: "8.2", docroot: public }
domains: ["\${app}.example.com"]
environments:
  production: { branch: master, clusters: [cluster-a] }
`;

const SESSION = `<?php
session_start();
$_SESSION['secret'] = 'secret of the victim';
echo session_id(), "\\n";
`;

/** What the app's own code can do with its own credentials: each attempt prints one line, "denied" or what it got. */
const PROBE = `<?php
header('Content-Type: text/plain');
parse_str(parse_url(ini_get('session.save_path'), PHP_URL_QUERY), $q);
$url = parse_url(ini_get('session.save_path'));
// A connection of its own for each attempt: one refused reply must not throw the next one off.
$try = function (string $what, callable $f) use ($url, $q) {
    $r = new Redis();
    $r->connect($url['host'], $url['port']);
    $r->auth($q['auth']);
    try { $v = $f($r); echo $what, ': ', ($v === false ? 'denied ' . $r->getLastError() : json_encode($v)), "\\n"; }
    catch (Throwable $e) { echo $what, ': denied ', $e->getMessage(), "\\n"; }
};
$victim = $_GET['key'];
$try('own', fn ($r) => $r->setex($q['prefix'] . 'mine', 60, 'x'));
$try('get', fn ($r) => $r->get($victim));
$try('exists', fn ($r) => $r->exists($victim));
$try('del', fn ($r) => $r->del($victim));
$try('keys', fn ($r) => $r->keys('*'));
$try('scan', fn ($r) => $r->scan($it));
$try('eval', fn ($r) => $r->eval("return redis.call('GET', KEYS[1])", [$victim], 1));
$try('rename', fn ($r) => $r->rename($victim, $q['prefix'] . 'stolen'));
$try('config', fn ($r) => $r->config('GET', 'requirepass'));
$try('acl', fn ($r) => $r->rawCommand('ACL', 'LIST'));
// Without credentials (the store's default user has a password the app does not know).
$d = new Redis();
$d->connect($url['host'], $url['port']);
try { $v = $d->get($victim); echo 'default: ', ($v === false ? 'denied ' . $d->getLastError() : json_encode($v)), "\\n"; }
catch (Throwable $e) { echo 'default: denied ', $e->getMessage(), "\\n"; }
`;

async function deployApp(app: string, files: Record<string, string>): Promise<void> {
  const repo = join(work, app);
  await mkdir(join(repo, 'public'), { recursive: true });
  await writeFile(join(repo, 'magrathea.yml'), MANIFEST);
  for (const [name, text] of Object.entries(files)) await writeFile(join(repo, 'public', name), text);
  await run('git', ['init', '-q', '-b', 'master', repo]);
  await run('git', ['-C', repo, 'add', '-A']);
  await run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', app]);
  const head = (await run('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout.trim();
  await exportTree(repo, head, join(work, `tree-${app}`), `${repo}.checkout`);
  const built = await buildRelease({ tree: join(work, `tree-${app}`), commit: head, workspace: join(work, `build-${app}`), commands: [] });
  const result = await deploy({ app, env: 'production', release: 'r1', manifest: (await readApp(repo, app)).manifest, source: built.dir }, { config, state, log: () => undefined });
  if (!result.ok) throw new Error(`deploy of ${app} failed: ${result.clusters.map((c) => c.error).join('; ')}`);
}

beforeAll(async () => {
  lab = await useOwnLab('sessions-security', { clusters: 1, webHosts: 2 }, [177, 179]);
  harness = await openDeployHarness(lab.config, 'sessions-security');
  ({ config, state, work } = harness);
  await deployApp('victim', { 'index.php': '<?php echo "ok\\n";\n', 'login.php': SESSION });
  await deployApp('thief', { 'index.php': '<?php echo "ok\\n";\n', 'probe.php': PROBE });
}, 180_000);

afterAll(async () => {
  await harness?.close();
  if (lab) await labDown({ dir: lab.dir, purge: true });
}, 60_000);

const edge = () => lab.edges[0]!.url;
const page = async (app: string, path: string) => (await run('curl', ['-s', '-S', '--max-time', '30', '-H', `Host: ${app}.example.com`, `${edge()}${path}`])).stdout;

/** The store, as its admin, from its host. */
async function admin(line: string): Promise<string> {
  const store = config.clusters['cluster-a']!.sessions!;
  const argv = ['sh', '-c', 'REDISCLI_AUTH=$(cat "$1") exec redis-cli --no-auth-warning -h "$2" -p "$3"', 'sh', store.passwordFile, store.address, String(store.port)];
  return (await sshRun(lab, store.host, argv, { input: `${line}\n` })).stdout.trim();
}

describe("one app cannot reach another's sessions in the store", () => {
  it('with its own credentials, an app reads and writes its own keys and nothing of the other app', async () => {
    const id = (await page('victim', '/login.php')).trim();
    expect(id).toMatch(/^[a-z0-9,-]{20,}$/);
    const key = `magrathea:victim.production:${id}`;
    expect(await admin(`GET ${key}`)).toBe('secret|s:20:"secret of the victim";');
    const probe = await page('thief', `/probe.php?key=${encodeURIComponent(key)}`);
    process.stdout.write(`what the thief got:\n${probe}`);
    const lines = Object.fromEntries(probe.trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
    expect(lines.own).toBe('true');
    for (const attempt of ['get', 'exists', 'del', 'keys', 'eval', 'rename', 'config', 'acl']) expect(`${attempt}: ${lines[attempt]}`).toMatch(new RegExp(`^${attempt}: denied .*NOPERM`));
    // SCAN is refused as a command; a client without a password gets nothing either.
    expect(lines.scan).toMatch(/^denied/);
    expect(lines.default).toMatch(/^denied .*NOAUTH/);
    expect(probe).not.toContain('secret of');
    expect(await admin(`EXISTS ${key}`)).toBe('1');
  });

  it("the other app's password is in its root-only pool file alone", async () => {
    const pools = await sshRun(lab, 'a-web-1', ['sh', '-c', 'stat -c "%a %U %n" /etc/php/8.2/fpm/pool.d/magrathea-*.conf; grep -l "auth\\[\\]=magrathea.victim.production" -r /etc /var/www /run 2>/dev/null || true']);
    expect(pools.stdout).toContain('600 root /etc/php/8.2/fpm/pool.d/magrathea-victim.production.conf');
    expect(pools.stdout).toContain('600 root /etc/php/8.2/fpm/pool.d/magrathea-thief.production.conf');
    const found = pools.stdout.split('\n').filter((l) => l.startsWith('/') && !l.startsWith('/etc/php/8.2/fpm/pool.d/magrathea-victim.production.conf'));
    expect(found).toEqual([]);
  });

  it('apps:destroy removes the app from the store: its user (and its connections) and its sessions', async () => {
    expect(await admin('ACL GETUSER magrathea.victim.production')).not.toBe('');
    const lines: string[] = [];
    const instances = (await state.clusterInstances('cluster-a')).filter((i) => i.app === 'victim');
    const outcome = await undeployCluster({ cluster: config.clusters['cluster-a']!, instances, ssh: hostSshSettings(config), state, log: (l) => lines.push(l) });
    expect(outcome.lines[0]).toMatch(/a-edge: .*session user magrathea\.victim\.production, [1-9][0-9]* session\(s\)/);
    expect(await admin('ACL GETUSER magrathea.victim.production')).toBe('');
    expect(await admin("EVAL \"return #redis.call('KEYS', ARGV[1])\" 0 magrathea:victim.production:*")).toBe('0');
    // The other app's user and keys stay.
    expect(await admin("EVAL \"return #redis.call('KEYS', ARGV[1])\" 0 magrathea:thief.production:*")).not.toBe('0');
  });
});
