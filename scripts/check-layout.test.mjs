import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { formatProblems, layoutProblems, listSources, readImports } from './check-layout.mjs';

describe('layoutProblems on a synthetic graph', () => {
  const imports = [
    // src/a -> src/b -> src/a: a cycle of folders, though no file cycle.
    { from: 'src/a/one.ts', to: 'src/b/two.ts' },
    { from: 'src/a/one.ts', to: 'src/b/three.ts' },
    { from: 'src/b/three.ts', to: 'src/a/four.ts' },
    // src/b -> src/b/inner and back: a subfolder is part of its folder, no cycle.
    { from: 'src/b/two.ts', to: 'src/b/inner/five.ts' },
    { from: 'src/b/inner/five.ts', to: 'src/b/three.ts' },
    // src/a -> src/c (through a subfolder of src/c) -> src/a: a cycle of folders.
    { from: 'src/a/one.ts', to: 'src/c/deep/six.ts' },
    { from: 'src/c/deep/six.ts', to: 'src/a/four.ts' },
    // src/core reaching out, and what it may do.
    { from: 'src/core/pure.ts', to: 'src/lib/lines.ts' },
    { from: 'src/core/pure.ts', to: 'src/core/render/names.ts' },
    { from: 'src/core/render/names.ts', to: 'src/core/values.ts' },
    // Tests are left out: neither a cycle nor an import out of src/core.
    { from: 'src/core/pure.test.ts', to: 'src/config/load.ts' },
    { from: 'src/lib/lines.test.ts', to: 'src/a/one.ts' },
  ];

  it('reports each folder cycle with one file import per edge, and each import out of src/core', () => {
    const problems = layoutProblems(imports);
    expect(problems.cycles).toEqual([
      { dirs: ['src/a', 'src/b', 'src/a'], edges: [{ from: 'src/a/one.ts', to: 'src/b/three.ts' }, { from: 'src/b/three.ts', to: 'src/a/four.ts' }] },
      { dirs: ['src/a', 'src/c', 'src/a'], edges: [{ from: 'src/a/one.ts', to: 'src/c/deep/six.ts' }, { from: 'src/c/deep/six.ts', to: 'src/a/four.ts' }] },
    ]);
    expect(problems.core).toEqual([{ from: 'src/core/pure.ts', to: 'src/lib/lines.ts' }]);
    expect(formatProblems(problems)).toEqual([
      'import cycle between folders: src/a -> src/b -> src/a',
      '  src/a/one.ts imports src/b/three.ts',
      '  src/b/three.ts imports src/a/four.ts',
      'import cycle between folders: src/a -> src/c -> src/a',
      '  src/a/one.ts imports src/c/deep/six.ts',
      '  src/c/deep/six.ts imports src/a/four.ts',
      'src/core imports from outside src/core (it must stand alone):',
      '  src/core/pure.ts imports src/lib/lines.ts',
    ]);
  });

  it('finds every cycle through a folder, not only the first', () => {
    const { cycles } = layoutProblems([
      { from: 'src/x/a.ts', to: 'src/y/a.ts' },
      { from: 'src/y/a.ts', to: 'src/x/b.ts' },
      { from: 'src/y/a.ts', to: 'src/z/a.ts' },
      { from: 'src/z/a.ts', to: 'src/x/c.ts' },
    ]);
    expect(cycles.map((c) => c.dirs.join(' -> '))).toEqual(['src/x -> src/y -> src/x', 'src/x -> src/y -> src/z -> src/x']);
  });

  it('says nothing of a graph without a folder cycle or an import out of src/core', () => {
    const problems = layoutProblems([
      { from: 'src/a/one.ts', to: 'src/b/two.ts' },
      { from: 'src/a/one.ts', to: 'src/core/pure.ts' },
      { from: 'src/b/two.ts', to: 'src/core/render/names.ts' },
      { from: 'src/core/render/names.ts', to: 'src/core/render/values.ts' },
      { from: 'src/core/pure.ts', to: 'src/core/render/names.ts' },
    ]);
    expect(problems).toEqual({ cycles: [], core: [] });
    expect(formatProblems(problems)).toEqual([]);
  });
});

describe('readImports on a tree of files', () => {
  let root;
  const files = {
    'src/core/pure.ts': "import type { Lines } from '../lib/lines.js';\nexport type { Names } from './render';\nimport { readFile } from 'node:fs';\nimport YAML from 'yaml';\n",
    'src/core/render/index.ts': "export type Names = typeof import('../../lib/lines.js');\n",
    'src/lib/lines.ts': "export const lines = async () => (await import('../core/pure.js')).x;\n",
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'magrathea-layout-'));
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), text);
    }
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('reads type-only imports, re-exports and import() as imports, resolves ./x.js to x.ts and a folder to its index, and skips packages', () => {
    expect(listSources(root)).toEqual(['src/core/pure.ts', 'src/core/render/index.ts', 'src/lib/lines.ts']);
    expect(readImports(root, listSources(root))).toEqual([
      { from: 'src/core/pure.ts', to: 'src/lib/lines.ts' },
      { from: 'src/core/pure.ts', to: 'src/core/render/index.ts' },
      { from: 'src/core/render/index.ts', to: 'src/lib/lines.ts' },
      { from: 'src/lib/lines.ts', to: 'src/core/pure.ts' },
    ]);
    const problems = layoutProblems(readImports(root, listSources(root)));
    expect(problems.core.map((i) => i.from)).toEqual(['src/core/pure.ts', 'src/core/render/index.ts']);
    expect(problems.cycles.map((c) => c.dirs.join(' -> '))).toEqual(['src/core -> src/lib -> src/core']);
  });
});
