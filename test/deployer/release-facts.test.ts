import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { resolveInstance } from '../../src/core/manifest/resolve.js';
import type { InstanceConfig } from '../../src/core/manifest/types.js';
import { validateManifest } from '../../src/core/manifest/validate.js';
import { readReleaseFacts } from '../../src/deployer/release-facts.js';

/** What the advice reads of a built release tree, on real files: sessions found in vendor/, links and fifos never followed. */
let tree: string;

function instance(): InstanceConfig {
  const parsed = validateManifest(['stack: { docroot: public }', 'domains: ["${app}.example.com"]', 'environments:', '  production: { branch: master, clusters: [c1] }'].join('\n'));
  if ('problems' in parsed) throw new Error(JSON.stringify(parsed.problems));
  const resolved = resolveInstance(parsed.manifest, { app: 'shop', env: 'production', cluster: 'c1' });
  if ('problems' in resolved) throw new Error(JSON.stringify(resolved.problems));
  return resolved.instance;
}

async function put(path: string, content: string): Promise<void> {
  await mkdir(join(tree, path, '..'), { recursive: true });
  await writeFile(join(tree, path), content);
}

const usesSessions = async () => (await readReleaseFacts(tree, [instance()]))[0]!.usesSessions;

beforeEach(async () => {
  tree = await mkdtemp(join(tmpdir(), 'magrathea-facts-'));
  await put('public/index.php', '<?php echo "hello";\n');
});
afterEach(() => rm(tree, { recursive: true, force: true }));

describe('readReleaseFacts', () => {
  it('finds session use deep in vendor/, after many files without it', async () => {
    for (let i = 0; i < 300; i++) await put(`vendor/lib/src/Class${i}.php`, `<?php class C${i} { function f() { return ${i}; } }\n`);
    expect(await usesSessions()).toBe(false);
    await put('vendor/zz/session/Handler.php', '<?php\nfunction go() { session_start(); }\n');
    expect(await usesSessions()).toBe(true);
    // Not read at all where the advice would not speak of sessions (one web host, or a session store).
    expect((await readReleaseFacts(tree, [instance()], false))[0]!.usesSessions).toBe(false);
  });

  it('reads only the head of each file (a large generated file costs no more than its first 256 KiB)', async () => {
    await put('a/big.php', `<?php // generated\n${'x'.repeat(300 * 1024)}\n$_SESSION['a'] = 1;\n`);
    expect(await usesSessions()).toBe(false);
  });

  it('follows no link and waits on no fifo', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'magrathea-facts-outside-'));
    try {
      await writeFile(join(outside, 'secret.php'), '<?php session_start();\n');
      await symlink(join(outside, 'secret.php'), join(tree, 'public', 'linked.php'));
      await symlink(outside, join(tree, 'vendor-link'));
      await run('mkfifo', [join(tree, 'public', 'pipe.php')]);
      expect(await usesSessions()).toBe(false);
      const facts = (await readReleaseFacts(tree, [instance()]))[0]!;
      expect(facts.paths['public/index.php']).toBe('file');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('sees a front controller in public/.htaccess, and not through a link', async () => {
    await put('public/.htaccess', 'RewriteEngine On\nRewriteRule ^ index.php [L]\n');
    expect((await readReleaseFacts(tree, [instance()]))[0]!.frontController).toBe(true);
    await rm(join(tree, 'public/.htaccess'));
    await put('elsewhere', 'RewriteRule ^ index.php [L]\n');
    await symlink('../elsewhere', join(tree, 'public/.htaccess'));
    expect((await readReleaseFacts(tree, [instance()]))[0]!.frontController).toBe(false);
    // A fifo in its place is opened without waiting for a writer, and not read.
    await rm(join(tree, 'public/.htaccess'));
    await run('mkfifo', [join(tree, 'public/.htaccess')]);
    expect((await readReleaseFacts(tree, [instance()]))[0]!.frontController).toBe(false);
  });
});
