import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runDaemon, start } from '../../src/adapters/exec.js';

/** The one process adapter, on real children: what its callers (deploys, the gateway's git, the lab) rely on. */
describe('run', () => {
  it('returns both outputs and the exit code; throws a CommandError naming the command and its stderr', async () => {
    expect(await run('sh', ['-c', 'echo out; echo err >&2'])).toEqual({ command: "sh -c 'echo out; echo err >&2'", exitCode: 0, stdout: 'out\n', stderr: 'err\n' });
    expect(await run('sh', ['-c', 'exit 3'], { reject: false })).toMatchObject({ exitCode: 3 });
    await expect(run('sh', ['-c', 'echo oops >&2; exit 3'])).rejects.toThrow(/^sh -c 'echo oops >&2; exit 3' exited with 3: oops$/);
  });

  it('gives input, or EOF at once without it; lines as they come', async () => {
    expect((await run('cat', [], { input: 'a\nb' })).stdout).toBe('a\nb');
    expect((await run('cat', [], { timeout: 5_000 })).stdout).toBe('');
    const lines: string[] = [];
    await run('sh', ['-c', 'printf "1\\n2\\n3"; echo e >&2'], { onLine: (line, stream) => lines.push(`${stream}:${line}`) });
    expect(lines.sort()).toEqual(['stderr:e', 'stdout:1', 'stdout:2', 'stdout:3']);
  });

  it('a program that cannot start, a timeout, a signal: exit 127 and why', async () => {
    expect(await run('/nonexistent/program', [], { reject: false })).toMatchObject({ exitCode: 127, stderr: expect.stringMatching(/ENOENT/) });
    const began = Date.now();
    expect(await run('sleep', ['30'], { timeout: 200, reject: false })).toMatchObject({ exitCode: 127, stderr: expect.stringMatching(/timed out after 200 milliseconds/) });
    expect(Date.now() - began).toBeLessThan(10_000);
    expect(await run('sh', ['-c', 'kill -KILL $$'], { reject: false })).toMatchObject({ exitCode: 127, stderr: expect.stringMatching(/killed with SIGKILL/) });
  });

  it('a child that exits without reading a large input: no failure of the caller', async () => {
    expect(await run('true', [], { input: Buffer.alloc(8 << 20) })).toMatchObject({ exitCode: 0 });
  });

  it('env extends the environment, or replaces it', async () => {
    expect((await run('sh', ['-c', 'echo "$A-${HOME:+home}"'], { env: { A: '1' } })).stdout).toBe('1-home\n');
    expect((await run('/usr/bin/env', [], { env: { ONLY: '1' }, extendEnv: false })).stdout).toBe('ONLY=1\n');
  });
});

describe('start', () => {
  it('is the child and a promise of its end that never rejects', async () => {
    const child = start('sh', ['-c', 'read line; echo "got $line"; exit 4']);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += String(d)));
    child.stdin!.end('x\n');
    expect(await child).toEqual({ exitCode: 4 });
    expect(out).toBe('got x\n');
    expect(await start('/nonexistent/program', [])).toEqual({});
    const slept = start('sleep', ['30']);
    slept.kill('SIGTERM');
    expect(await slept).toEqual({ signal: 'SIGTERM' });
  });

  it('a child that exits while its input is still being written (git refusing a pack) leaves the caller running', async () => {
    const child = start('sh', ['-c', 'head -c 10 >/dev/null; exit 7']);
    const chunk = Buffer.alloc(1 << 20);
    const writing = (async () => {
      for (let i = 0; i < 64 && child.stdin!.writable; i++) await new Promise((r) => child.stdin!.write(chunk, r));
    })();
    expect(await child).toEqual({ exitCode: 7 });
    await writing;
  });
});

describe('runDaemon', () => {
  it('waits for the launcher only, appends its output to the log, and names a failure', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'magrathea-exec-'));
    try {
      const log = join(dir, 'log');
      const began = Date.now();
      // The daemon it leaves behind holds no pipe of ours: the call returns when the launcher exits.
      await runDaemon('sh', ['-c', 'echo launched; sleep 30 & echo $! > "$0.pid"', join(dir, 'daemon')], { log });
      expect(Date.now() - began).toBeLessThan(10_000);
      process.kill(Number(await readFile(join(dir, 'daemon.pid'), 'utf8')), 'SIGKILL');
      await expect(runDaemon('sh', ['-c', 'echo bad config >&2; exit 2'], { log })).rejects.toThrow(/exited with 2: bad config/);
      expect(await readFile(log, 'utf8')).toBe('launched\nbad config\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
