/**
 * A repository and its build commands are the pusher's: what they can make
 * the gateway (root) do with the tree. Real git repositories, real builds
 * in their real sandbox, as root.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import { chmod, chown, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { buildRelease, exportTree } from '../../src/builder/build-release.js';
import type { BuildSettings } from '../../src/core/config/types.js';
import { commitFiles, scratchRepo } from '../helpers/git-repo.js';

const asRoot = process.getuid?.() === 0;
const describeAsRoot = asRoot ? describe : describe.skip;

let root: string;
let victim: string;
let repo: string;
let trees = 0;
let workspaces = 0;
/** Commits files (a string: content; `{ link }`: a symbolic link) and returns the export of that commit. */
async function commitTree(files: Record<string, string | { link: string }>): Promise<{ tree: string; commit: string }> {
  const commit = await commitFiles(repo, files, 'c', { allowEmpty: true });
  const tree = join(root, `tree-${++trees}`);
  await exportTree(repo, commit, tree, join(root, 'checkout'));
  return { tree, commit };
}

function build(source: { tree: string; commit: string }, commands: string[], more: { shared?: string[]; hidden?: string[]; settings?: Partial<BuildSettings>; workspace?: string; log?: (l: string) => void } = {}) {
  return buildRelease({ tree: source.tree, commit: source.commit, workspace: more.workspace ?? join(root, `ws-${++workspaces}`), commands, ...more });
}

/** Processes whose command line is exactly `argv`, from /proc. */
async function processesRunning(argv: string[]): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === `${argv.join('\0')}\0`) found.push(Number(pid));
  }
  return found;
}

beforeAll(async () => {
  ({ root, repo } = await scratchRepo('magrathea-security-build-'));
  await chmod(root, 0o755);
  // Stands for /etc/passwd: a file of root's that a build must not reach.
  victim = join(root, 'victim');
  await writeFile(victim, 'precious\n', { mode: 0o644 });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('the release tree', () => {
  it('refuses a committed absolute link, naming it, and root writes nothing through it', async () => {
    const source = await commitTree({ 'index.php': '<?php', REVISION: { link: victim } });
    await expect(build(source, [])).rejects.toThrow(`REVISION: link to ${victim}: refused: an absolute link`);
    if (asRoot) await expect(build(source, ['true'])).rejects.toThrow(`REVISION: link to ${victim}: refused: an absolute link`);
    expect(await readFile(victim, 'utf8')).toBe('precious\n');
  });

  it('refuses a relative link that leads outside the release, and a shared path that crosses a link', async () => {
    const source = await commitTree({ REVISION: 'x', 'public/up': { link: '../../../../../../../../../..' + victim } });
    await expect(build(source, [])).rejects.toThrow(/^release refused:\npublic\/up: link to \.\.\/.*: refused: it resolves outside the release/);
    const shared = await commitTree({ 'public/up': 'no longer a link', 'data/store': { link: '../public' } });
    await expect(build(shared, [], { shared: ['data/store/uploads'] })).rejects.toThrow(
      'shared path data/store/uploads: data/store is a link (to ../public) in the release: a shared path may not cross a link',
    );
    // The same tree is fine while data/store is not shared.
    await expect(build(shared, [], { shared: ['storage'] })).resolves.toMatchObject({ commands: [] });
  });

  it('writes REVISION anew: a link left at release/REVISION is replaced, never followed', async () => {
    const workspace = join(root, 'ws-revision');
    await mkdir(join(workspace, 'release'), { recursive: true });
    await symlink(victim, join(workspace, 'release', 'REVISION'));
    const source = await commitTree({ 'data/store': 'a file now' });
    const built = await build(source, [], { workspace });
    expect(await readFile(join(built.dir, 'REVISION'), 'utf8')).toBe(`${source.commit}\n`);
    expect(await readFile(victim, 'utf8')).toBe('precious\n');
  });
});

describeAsRoot('build commands', () => {
  it('cannot make root write through a link they plant at REVISION', async () => {
    const source = await commitTree({ 'index.php': '<?php // plant' });
    await expect(build(source, [`ln -sf ${victim} REVISION`])).rejects.toThrow(`REVISION: link to ${victim}: refused: an absolute link`);
    await expect(build(source, [`ln -sf ../../../../../../../../../..${victim} REVISION`])).rejects.toThrow(/REVISION: link to .*: refused: it resolves outside the release/);
    expect(await readFile(victim, 'utf8')).toBe('precious\n');
  });

  it('cannot ship a setuid or setgid file, a fifo or a socket', async () => {
    const source = await commitTree({ 'index.php': '<?php // special' });
    await expect(build(source, ['cp /bin/dash x && chmod 6755 x'])).rejects.toThrow('x: setuid bit (mode 6755): refused');
    await expect(build(source, ['mkdir d && chmod 2775 d'])).rejects.toThrow('d: setgid bit (mode 2775): refused');
    await expect(build(source, ['mkfifo p'])).rejects.toThrow('p: a fifo: refused');
    // The release's root is not in the walk: its mode is the gateway's, whatever the build made it.
    const built = await build(source, ['chmod 6777 .']);
    expect((await stat(built.dir)).mode & 0o7777).toBe(0o755);
    await expect(build(source, ['python3 -c "import socket; socket.socket(socket.AF_UNIX).bind(\'s\')"'])).rejects.toThrow('s: a socket: refused');
  });

  it('run under a throwaway uid in their own namespaces, with a writable home', async () => {
    const source = await commitTree({ 'index.php': '<?php // ns' });
    const lines: string[] = [];
    await build(source, ['echo "pid $$ uid $(id -u) nnp $(grep NoNewPrivs /proc/self/status | cut -f2) capbnd $(grep CapBnd /proc/self/status | cut -f2)"; touch "$HOME/ok" && echo home writable; ls /proc | grep -c "^[0-9]"'], { log: (l) => lines.push(l) });
    const [, pid, uid, nnp, bounding] = lines.find((l) => l.startsWith('pid '))!.match(/^pid (\d+) uid (\d+) nnp (\d) capbnd (\S+)$/)!;
    // sh is PID 2 of its namespace (timeout is 1), sees only the namespace's processes, and can never gain a privilege.
    expect([pid, nnp, bounding]).toEqual(['2', '1', '0000000000000000']);
    expect(Number(uid)).toBeGreaterThanOrEqual(1_900_000_000);
    expect(lines).toContain('home writable');
    expect(Number(lines.at(-1))).toBeLessThan(6);
  });

  it('see the gateway\'s state and config empty, and keep their tree from builds of other apps', async () => {
    const state = join(root, 'state-of-the-gateway');
    await mkdir(join(state, 'repos', 'other-app.git'), { recursive: true });
    await writeFile(join(state, 'repos', 'other-app.git', 'secret'), 'another tenant\'s source\n', { mode: 0o644 });
    const source = await commitTree({ 'index.php': '<?php // hidden' });
    const lines: string[] = [];
    await build(source, [`cat ${state}/repos/other-app.git/secret 2>/dev/null || echo "entries: $(ls -A ${state} | wc -l)"; echo "tree $(stat -c %a .) home $(stat -c %a "$HOME")"`], { hidden: [state], log: (l) => lines.push(l) });
    expect(lines).toContain('entries: 0');
    expect(lines).not.toContain('another tenant\'s source');
    expect(lines).toContain('tree 700 home 700');
    // Hidden in the build's namespace only.
    expect(await readFile(join(state, 'repos', 'other-app.git', 'secret'), 'utf8')).toBe('another tenant\'s source\n');
  });

  it('take every process they started with them when they end', async () => {
    const source = await commitTree({ 'index.php': '<?php // background' });
    const argv = ['sleep', '1000.4242'];
    // Background, detached from the session, and double-forked: none outlives its step.
    await build(source, [`${argv.join(' ')} >/dev/null 2>&1 & echo started`, `setsid ${argv.join(' ')} >/dev/null 2>&1 &`, `(nohup ${argv.join(' ')} >/dev/null 2>&1 &)`]);
    await new Promise((r) => setTimeout(r, 200));
    expect(await processesRunning(argv)).toEqual([]);
  });

  it('stop at the time limit, named, with everything they started', async () => {
    const source = await commitTree({ 'index.php': '<?php // slow' });
    const argv = ['sleep', '1000.4343'];
    const started = Date.now();
    await expect(build(source, [`${argv.join(' ')} >/dev/null 2>&1 & sleep 30`], { settings: { stepTimeoutSeconds: 1 } })).rejects.toThrow(
      /^build: sleep 1000\.4343 >\/dev\/null 2>&1 & sleep 30 timed out after 1s \(builds\.step_timeout\): it and every process it started were killed$/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await processesRunning(argv)).toEqual([]);
    // One that ignores TERM gets KILL a few seconds later.
    await expect(build(source, ['trap "" TERM; sleep 30'], { settings: { stepTimeoutSeconds: 1 } })).rejects.toThrow(/^build: trap .* timed out after 1s/);
  });

  it('stop at their limits, each named: processes at once, memory per process, the largest file', async () => {
    const source = await commitTree({ 'index.php': '<?php // limits' });
    const argv = ['sleep', '1000.4646'];
    await expect(build(source, [`i=0; while [ $i -lt 100 ]; do ${argv.join(' ')} & i=$((i+1)); done; wait`], { settings: { maxProcesses: 20 } })).rejects.toThrow(
      /^build: i=0; .* failed with exit code \d+ \(it ran into builds\.max_processes, the processes a build may run at once\)/,
    );
    expect(await processesRunning(argv)).toEqual([]);
    const hog = `php -r 'echo strlen(str_repeat("x", 300 * 1024 * 1024)), "\\n";'`;
    await expect(build(source, [hog], { settings: { maxMemory: 100 * 1024 ** 2 } })).rejects.toThrow(/\(it may have run into builds\.max_memory/);
    const lines: string[] = [];
    await build(source, [hog], { log: (l) => lines.push(l) });
    expect(lines).toContain('314572800');
    await expect(build(source, ['head -c 3000000 /dev/zero > big.bin'], { settings: { maxReleaseSize: 1024 ** 2 } })).rejects.toThrow(
      /^build: head .* failed with exit code 153 \(a file reached builds\.max_release_size/,
    );
  });

  describe('and the network', () => {
    let server: Server;
    let port: number;
    let connections = 0;
    beforeAll(async () => {
      server = createServer((socket) => {
        connections++;
        socket.end('hello\n');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    const connect = () => `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && head -1 <&3' 2>&1 || echo no connection`;

    it('with builds.network: allow, reach a port on the loopback', async () => {
      const lines: string[] = [];
      await build(await commitTree({ 'net.txt': 'allow' }), [connect()], { settings: { network: 'allow' }, log: (l) => lines.push(l) });
      expect(lines).toContain('hello');
      expect(connections).toBe(1);
    });

    it('with builds.network: deny, cannot open a TCP connection, even to the loopback', async () => {
      const lines: string[] = [];
      await build(await commitTree({ 'net.txt': 'deny' }), [connect()], { settings: { network: 'deny' }, log: (l) => lines.push(l) });
      expect(lines).toContain('no connection');
      expect(lines).not.toContain('hello');
      expect(connections).toBe(1);
    });
  });

  it('are refused, with the reason, when the gateway is not root; a release without any still builds', async () => {
    // The builder itself, compiled, run as an unprivileged user.
    const dist = new URL('../../dist/src/builder/build-release.js', import.meta.url).href;
    const work = join(root, 'unprivileged');
    await mkdir(work);
    await chown(work, 65534, 65534);
    const source = await commitTree({ 'index.php': '<?php // unprivileged' });
    await run('chmod', ['-R', 'a+rX', source.tree]);
    const script = `import { buildRelease } from ${JSON.stringify(dist)};
      const [tree, commit, workspace, commands] = process.argv.slice(1);
      buildRelease({ tree, commit, workspace, commands: JSON.parse(commands) }).then(
        (b) => console.log('built', b.dir), (e) => { console.log(e.code + ': ' + e.message); process.exitCode = 1; });`;
    const asNobody = (workspace: string, commands: string[]) =>
      run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '--input-type=module', '-e', script, source.tree, source.commit, workspace, JSON.stringify(commands)], { reject: false, cwd: work });
    const refused = await asNobody(join(work, 'ws-1'), ['touch built-by-the-gateway-user']);
    expect(refused.stdout).toMatch(/^build-needs-root: builds need the gateway to run as root: .*uid 65534, so "touch built-by-the-gateway-user" did not run/);
    expect(refused.exitCode).toBe(1);
    const plain = await asNobody(join(work, 'ws-2'), []);
    expect(plain.stdout).toBe(`built ${join(work, 'ws-2', 'release')}\n`);
    expect(await readFile(join(work, 'ws-2', 'release', 'REVISION'), 'utf8')).toBe(`${source.commit}\n`);
  });
});
