import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';

/** Where test runs keep what they fetched, across runs: fetched once per machine. */
export const TEST_CACHE = join(tmpdir(), 'magrathea-test-cache');

/** An upstream source tree as Debian's archive carries it. */
export interface DebianSource {
  /** The unpacked upstream tarball (`*.orig.tar.*`), without Debian's changes. */
  dir: string;
  /** Debian's upstream version, from the tarball's name (`6.1.9+dfsg1`). */
  version: string;
}

/**
 * The upstream source of Debian's source package `pkg`: its `.orig` tarball,
 * fetched with `apt-get source --download-only` (checked against the
 * archive's signed index by apt) and unpacked, without Debian's patches.
 * Cached under TEST_CACHE; a fetch is made in a directory of its own and
 * renamed into place, so two runs at once never see half a tree.
 *
 * apt gets a configuration of its own for it (lists in the scratch
 * directory): the `deb-src` twins of the machine's own Debian entries,
 * found with `apt-get indextargets`, so the machine's apt setup and lists
 * are left as they are and no archive address is written here.
 */
export async function debianSource(pkg: string): Promise<DebianSource> {
  const root = join(TEST_CACHE, 'debian-source');
  const final = join(root, pkg);
  const cached = await readCached(final);
  if (cached) return cached;
  await mkdir(root, { recursive: true });
  const scratch = await mkdtemp(join(root, `.${pkg}-`));
  try {
    const apt = join(scratch, 'apt');
    await mkdir(join(apt, 'lists', 'partial'), { recursive: true });
    await mkdir(join(apt, 'sources.list.d'), { recursive: true });
    await mkdir(join(apt, 'archives', 'partial'), { recursive: true });
    await writeFile(join(apt, 'sources.list'), '');
    await writeFile(join(apt, 'sources.list.d', 'debian-src.sources'), await debSourceEntries());
    const options = [
      '-q',
      '-o', `Dir::Etc::SourceList=${join(apt, 'sources.list')}`,
      '-o', `Dir::Etc::SourceParts=${join(apt, 'sources.list.d')}`,
      '-o', `Dir::State::Lists=${join(apt, 'lists')}`,
      '-o', `Dir::Cache::Archives=${join(apt, 'archives')}`,
      '-o', 'Dir::Cache::pkgcache=',
      '-o', 'Dir::Cache::srcpkgcache=',
      // The scratch directory is root's: apt's download user could not write there.
      '-o', 'APT::Sandbox::User=root',
    ];
    const download = join(scratch, 'download');
    await mkdir(download);
    await run('apt-get', [...options, 'update'], { timeout: 300_000 });
    await run('apt-get', [...options, 'source', '--download-only', pkg], { cwd: download, timeout: 300_000 });
    const orig = (await readdir(download)).find((f) => f.startsWith(`${pkg}_`) && /\.orig\.tar\.(xz|gz|bz2)$/.test(f));
    if (!orig) throw new Error(`apt-get source ${pkg} brought no .orig tarball: ${(await readdir(download)).join(', ')}`);
    const version = orig.slice(pkg.length + 1).replace(/\.orig\.tar\.\w+$/, '');
    const stage = join(scratch, 'stage');
    await mkdir(join(stage, 'tree'), { recursive: true });
    await run('tar', ['-xf', join(download, orig), '-C', join(stage, 'tree'), '--strip-components=1', '--no-same-owner']);
    await writeFile(join(stage, 'version'), `${version}\n`);
    // Another run may have put it in place meanwhile: then its copy is kept.
    await rename(stage, final).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const fetched = await readCached(final);
  if (!fetched) throw new Error(`${final}: no source tree after the fetch`);
  return fetched;
}

async function readCached(dir: string): Promise<DebianSource | undefined> {
  try {
    const version = (await readFile(join(dir, 'version'), 'utf8')).trim();
    if (!(await stat(join(dir, 'tree'))).isDirectory()) return undefined;
    return { dir: join(dir, 'tree'), version };
  } catch {
    return undefined;
  }
}

/**
 * The machine's apt entries of Debian's archive, as `deb-src` entries
 * (deb822): each entry that `apt-get indextargets` names for a Debian
 * Packages index, with its Types line replaced. One-line entries become
 * deb822 too.
 */
async function debSourceEntries(): Promise<string> {
  const { stdout } = await run('apt-get', ['indextargets', '--format', '$(SOURCESENTRY)', 'Identifier: Packages', 'Origin: Debian']);
  const entries = [...new Set(stdout.split('\n').filter(Boolean))];
  const out: string[] = [];
  for (const entry of entries) {
    const m = /^(.*):(\d+)$/.exec(entry);
    if (!m) continue;
    const [file, n] = [m[1]!, Number(m[2])];
    const text = await readFile(file, 'utf8');
    if (file.endsWith('.sources')) {
      const stanza = text.split(/\n[ \t]*\n/).map((s) => s.split('\n').filter((l) => !l.startsWith('#')).join('\n').trim()).filter(Boolean)[n - 1];
      if (stanza) out.push(stanza.replace(/^Types:.*$/m, 'Types: deb-src'));
    } else {
      const line = text.split('\n')[n - 1]?.trim();
      const one = line && /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s+(.+)$/.exec(line);
      if (!one) continue;
      const options = (one[1] ?? '').split(/\s+/).filter(Boolean).map((o) => o.split('=')).filter(([k]) => k === 'signed-by').map(([, v]) => `Signed-By: ${v}`);
      out.push(['Types: deb-src', `URIs: ${one[2]}`, `Suites: ${one[3]}`, `Components: ${one[4]}`, ...options].join('\n'));
    }
  }
  if (out.length === 0) throw new Error('apt-get indextargets names no entry of Debian\'s archive on this machine: the test needs one (Debian 12)');
  return `${out.join('\n\n')}\n`;
}
