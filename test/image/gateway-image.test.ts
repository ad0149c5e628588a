import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from '../../src/adapters/exec.js';
import { freePort } from '../helpers/free-port.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The gateway's container image (Dockerfile), built with podman and
 * started: the HTTP API answers, an admin from the users.yml mounted into
 * it runs `ssh ... help`, the gateway runs as its own user and keeps its
 * SSH host key in the state volume across a restart. `npm run test:image`
 * only (jest.image.config.js), never in `npm test`: the build takes minutes.
 *
 * No container registry is reached: the base (node:20-bookworm-slim in
 * production) is made by scripts/image-test-base.sh from Debian's archive
 * and this machine's Node 20, its rootfs cached under CACHE. Everything the
 * suite makes (containers, their volumes, both images) is removed by id in
 * afterAll, failed or not; the cache is kept.
 */
const CACHE = process.env.MAGRATHEA_IMAGE_TEST_CACHE ?? '/var/cache/magrathea-test';
const TAG = `test-${process.pid}`;
const BASE = `localhost/magrathea-base:${TAG}`;
const IMAGE = `localhost/magrathea-gateway:${TAG}`;
const NAME = `magrathea-image-test-${process.pid}`;
// The machine is shared: builds at the lowest CPU and I/O priority.
const LOW = ['nice', '-n', '19', 'ionice', '-c3'];
/**
 * How containers start on a machine like this one (README, "Running the
 * gateway in a container"): Debian 12's crun 1.8 refuses hybrid cgroups
 * (v1 controllers plus a v2 hierarchy), runc does not; and podman asks for
 * open-file and process limits above the hard ones of a root without
 * CAP_SYS_RESOURCE, which the runtime cannot set: limits it can set are given.
 */
const RUNTIME = ['--runtime', process.env.MAGRATHEA_IMAGE_TEST_RUNTIME ?? 'runc', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=32768:32768'];

let work: string;
let key: string;
let sshPort: number;
let httpPort: number;
let container: string | undefined;
/** Set before `podman run`: a run that fails after creating the container leaves it behind, known by this name only. */
let named = false;
const made: string[] = [];

const podman = (args: readonly string[], timeout = 120_000): Promise<RunResult> => run('podman', args, { reject: false, timeout });
const logs = async (): Promise<string> => {
  if (!container) return 'no container';
  const shown = await podman(['logs', container]);
  return `the container's log: ${shown.stdout}${shown.stderr}`;
};
const ssh = (...command: string[]) =>
  run('ssh', ['-p', String(sshPort), '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', `UserKnownHostsFile=${join(work, 'known_hosts')}`, 'git@127.0.0.1', ...command], { reject: false, timeout: 60_000 });

async function openApi(): Promise<{ status: number; body: string } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/v1/openapi.json`, { signal: AbortSignal.timeout(5000) });
    return { status: response.status, body: await response.text() };
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  const missing = [];
  for (const tool of ['podman', 'runc', 'debootstrap']) if ((await run('sh', ['-c', 'command -v "$1"', 'sh', tool], { reject: false })).exitCode !== 0) missing.push(tool);
  if (missing.length > 0) throw new Error(`the image test needs ${missing.join(', ')}: apt-get install podman runc debootstrap (as root)`);
  work = await mkdtemp(join(tmpdir(), 'magrathea-image-'));
  // The container's user (uid 10000) reads the configuration through the mount.
  await chmod(work, 0o755);
  const config = join(work, 'config');
  await mkdir(config, { mode: 0o755 });
  key = join(work, 'admin_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'admin', '-f', key]);
  const publicKey = (await readFile(`${key}.pub`, 'utf8')).trim();
  await writeFile(join(config, 'users.yml'), `admin:\n  role: admin\n  keys: ["${publicKey}"]\n`, { mode: 0o644 });
  // Documentation addresses: nothing is deployed, the configuration must only be valid.
  await writeFile(join(config, 'clusters.yml'), 'cluster-a:\n  hosts:\n    a-1: { address: 192.0.2.10, roles: [web, cache, balancer] }\n', { mode: 0o644 });
  await writeFile(join(config, 'gateway.yml'), 'accounting: { interval: 1d }\n', { mode: 0o644 });
  [sshPort, httpPort] = [await freePort(), await freePort()];

  const base = await run('bash', ['scripts/image-test-base.sh', BASE, CACHE], { reject: false, timeout: 30 * 60_000 });
  if (base.exitCode !== 0) throw new Error(`making the base image failed: ${base.stderr}`);
  made.push(BASE);
  const started = Date.now();
  // --format docker: OCI images carry no HEALTHCHECK. --layers=false: no intermediate images left behind.
  // --pull=never: a base missing from the local storage fails the build instead of asking a registry.
  const build = await run(LOW[0]!, [...LOW.slice(1), 'podman', 'build', ...RUNTIME, '--pull=never', '--format', 'docker', '--layers=false', '--build-arg', `BASE=${BASE}`, '-t', IMAGE, '.'], { reject: false, timeout: 30 * 60_000 });
  if (build.exitCode !== 0) throw new Error(`podman build failed (${build.exitCode}): ${build.stdout.slice(-3000)}\n${build.stderr.slice(-3000)}`);
  made.push(IMAGE);
  const size = Number((await podman(['image', 'inspect', '--format', '{{.Size}}', IMAGE])).stdout.trim());
  console.log(`image built in ${((Date.now() - started) / 1000).toFixed(0)} s, ${(size / 1e6).toFixed(0)} MB`);

  named = true;
  const created = await podman(['run', '-d', ...RUNTIME, '--name', NAME, '-p', `127.0.0.1:${sshPort}:2222`, '-p', `127.0.0.1:${httpPort}:5000`, '-v', `${config}:/etc/magrathea:ro`, IMAGE]);
  if (created.exitCode !== 0) throw new Error(`podman run failed: ${created.stderr}`);
  container = created.stdout.trim();
  await waitFor('the gateway in its container to answer over HTTP', async () => (await openApi())?.status === 200, 90_000, logs);
}, 60 * 60_000);

afterAll(async () => {
  // By id, one at a time, each whatever happened to the others; -v: the state volume too.
  if (container ?? named) await podman(['rm', '--force', '--ignore', '--volumes', '--time', '10', container ?? NAME]);
  for (const image of made.reverse()) await podman(['rmi', '--force', image]);
  if (work) await rm(work, { recursive: true, force: true });
}, 5 * 60_000);

describe('the gateway image', () => {
  it('serves the HTTP API: GET /v1/openapi.json without a token', async () => {
    const answer = await openApi();
    expect(answer?.status).toBe(200);
    const document = JSON.parse(answer!.body) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toMatch(/^3\.1/);
    expect(Object.keys(document.paths)).toContain('/v1/apps');
  });

  it('lets an admin of the mounted users.yml in over SSH: help', async () => {
    const help = await ssh('help');
    expect({ exit: help.exitCode, stderr: help.stderr }).toEqual({ exit: 0, stderr: expect.any(String) });
    expect(help.stdout).toContain('apps:create');
    const who = await ssh('whoami');
    expect(who.stdout).toContain('admin');
  });

  it('runs as its own user, not root, and says healthy', async () => {
    expect((await podman(['exec', container!, 'id', '-u'])).stdout.trim()).toBe('10000');
    const health = await podman(['healthcheck', 'run', container!]);
    expect({ exit: health.exitCode, out: health.stdout + health.stderr }).toEqual({ exit: 0, out: expect.any(String) });
  });

  it('keeps its SSH host key in the state volume across a restart', async () => {
    const before = (await podman(['exec', container!, 'cat', '/var/lib/magrathea/ssh/ssh_host_ed25519_key.pub'])).stdout.trim();
    expect(before).toMatch(/^ssh-ed25519 /);
    const restarted = await podman(['restart', '--time', '10', container!]);
    expect(restarted.exitCode).toBe(0);
    await waitFor('the gateway to answer again after a restart', async () => (await openApi())?.status === 200, 90_000, logs);
    // StrictHostKeyChecking=accept-new with the known_hosts of the first login: a new key would be refused.
    const again = await ssh('help');
    expect({ exit: again.exitCode, stderr: again.stderr }).toEqual({ exit: 0, stderr: expect.any(String) });
    expect((await podman(['exec', container!, 'cat', '/var/lib/magrathea/ssh/ssh_host_ed25519_key.pub'])).stdout.trim()).toBe(before);
  });
});
