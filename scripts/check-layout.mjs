#!/usr/bin/env node
/**
 * The layout check (`npm run lint:layout`, part of `npm run lint` and so of
 * `npm test`). Exits 1, naming the files of each offending import, on:
 *
 * - an import cycle between folders of src/: the file import graph is
 *   collapsed to the folders directly under src/ (a subfolder is part of
 *   its folder: src/gateway/ssh is src/gateway, src/core/config is
 *   src/core), and every elementary cycle of that graph is reported, with
 *   one file import per edge;
 * - a file of src/core (not a *.test.ts) that imports, by a relative path,
 *   anything outside src/core (npm packages and node: built-ins are the
 *   ESLint rule's business).
 *
 * Every import counts: `import type`, `export ... from`, `import()` and
 * `typeof import()` alike. Test files (*.test.ts) are left out of both
 * rules: they are not part of the code's graph (nothing imports them).
 * Imports are read with the TypeScript compiler's preProcessFile: nothing
 * is compiled, nothing but TypeScript is needed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const CORE = 'src/core';

const isTest = (file) => /\.test\.[cm]?ts$/.test(file);
const toPosix = (path) => path.split(sep).join('/');
const inside = (file, dir) => file.startsWith(`${dir}/`);

/** Every .ts file under `dir` (repository-relative, POSIX separators), tests included, sorted. */
export function listSources(root, dir = 'src') {
  const found = [];
  const walk = (rel) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = `${rel}/${name}`;
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (/\.[cm]?ts$/.test(name) && !/\.d\.[cm]?ts$/.test(name)) found.push(path);
    }
  };
  walk(dir);
  return found;
}

/** The file a relative specifier names: `./x.js` is `./x.ts` (NodeNext spelling), a folder its index.ts. */
export function resolveSpecifier(root, from, specifier) {
  const base = toPosix(relative(root, resolve(root, dirname(from), specifier)));
  const candidates = [base.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts').replace(/\.cjs$/, '.cts'), base, `${base}.ts`, `${base}/index.ts`];
  return candidates.find((c) => existsSync(join(root, c)) && statSync(join(root, c)).isFile()) ?? candidates[0];
}

/** The relative imports of `files`: `{ from, to }`, both repository-relative. */
export function readImports(root, files) {
  const imports = [];
  for (const from of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(root, from), 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('./') && !fileName.startsWith('../')) continue;
      imports.push({ from, to: resolveSpecifier(root, from, fileName) });
    }
  }
  return imports;
}

/** The folder directly under `srcDir` that holds `file` (`src/gateway` for src/gateway/ssh/server.ts), or `srcDir` itself. */
function folderOf(file, srcDir) {
  const rest = file.slice(srcDir.length + 1).split('/');
  return rest.length > 1 ? `${srcDir}/${rest[0]}` : srcDir;
}

/**
 * The problems of a file import graph (`{ from, to }`, repository-relative
 * paths): `cycles`, each `{ dirs: [a, b, ..., a], edges: [{ from, to }] }`
 * with one example import per edge, and `core`, the imports out of src/core.
 */
export function layoutProblems(imports, { srcDir = 'src', coreDir = CORE } = {}) {
  const code = imports.filter((i) => !isTest(i.from) && !isTest(i.to));
  const core = code.filter((i) => inside(i.from, coreDir) && !inside(i.to, coreDir));

  // The directory graph: an edge per pair of distinct folders, with the first file import (sorted) as its example.
  const examples = new Map();
  for (const i of [...code].sort((a, b) => `${a.from} ${a.to}`.localeCompare(`${b.from} ${b.to}`))) {
    if (!inside(i.from, srcDir) || !inside(i.to, srcDir)) continue;
    const [a, b] = [folderOf(i.from, srcDir), folderOf(i.to, srcDir)];
    if (a === b) continue;
    const key = `${a}\n${b}`;
    if (!examples.has(key)) examples.set(key, i);
  }
  const next = new Map();
  for (const key of examples.keys()) {
    const [a, b] = key.split('\n');
    if (!next.has(a)) next.set(a, []);
    next.get(a).push(b);
  }
  const nodes = [...new Set([...examples.keys()].flatMap((k) => k.split('\n')))].sort();
  for (const list of next.values()) list.sort();

  // Every elementary cycle, once: found from its smallest folder, through larger ones only.
  const cycles = [];
  nodes.forEach((start, s) => {
    const path = [start];
    const onPath = new Set(path);
    const visit = (node) => {
      for (const to of next.get(node) ?? []) {
        if (to === start) cycles.push([...path, start]);
        else if (nodes.indexOf(to) > s && !onPath.has(to)) {
          path.push(to);
          onPath.add(to);
          visit(to);
          onPath.delete(to);
          path.pop();
        }
      }
    };
    visit(start);
  });
  return {
    cycles: cycles.map((dirs) => ({ dirs, edges: dirs.slice(0, -1).map((d, k) => examples.get(`${d}\n${dirs[k + 1]}`)) })),
    core,
  };
}

/** The report: one paragraph per cycle, then the imports out of src/core; empty when all is well. */
export function formatProblems({ cycles, core }, coreDir = CORE) {
  const lines = [];
  for (const { dirs, edges } of cycles) {
    lines.push(`import cycle between folders: ${dirs.join(' -> ')}`);
    for (const e of edges) lines.push(`  ${e.from} imports ${e.to}`);
  }
  if (core.length > 0) {
    lines.push(`${coreDir} imports from outside ${coreDir} (it must stand alone):`);
    for (const i of core) lines.push(`  ${i.from} imports ${i.to}`);
  }
  return lines;
}

export function checkLayout(root) {
  return layoutProblems(readImports(root, listSources(root)));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const problems = checkLayout(root);
  const report = formatProblems(problems);
  if (report.length > 0) {
    process.stderr.write(`${report.join('\n')}\n`);
    process.stderr.write(`layout: ${problems.cycles.length} folder cycle(s), ${problems.core.length} import(s) out of ${CORE}\n`);
    process.exit(1);
  }
  process.stdout.write('layout: no folder cycle, src/core stands alone\n');
}
