import { run } from '../adapters/exec.js';
import { MagratheaError } from '../core/errors.js';
import { MANIFEST_FILE, MAX_MANIFEST_BYTES } from '../core/manifest/validate.js';

/**
 * The text of `magrathea.yml` at `rev` of the repository `repo` (bare or
 * not), read from git's objects and never from a checkout: a committed
 * symbolic link is a blob whose content is its target, which a checkout
 * would follow (`/etc/shadow`, `/dev/zero`). Only a regular file is taken.
 * Undefined when `rev` does not resolve or has no such file; `ref` names
 * the revision in errors (`master`, `v1.2`).
 */
export async function readManifestBlob(repo: string, rev: string, ref = rev): Promise<string | undefined> {
  const listed = await run('git', ['-C', repo, 'ls-tree', '-l', '-z', rev, '--', MANIFEST_FILE], { reject: false });
  const entry = /^(\d{6}) (\w+) ([0-9a-f]+) +(-|\d+)\t/.exec(listed.stdout);
  if (listed.exitCode !== 0 || !entry) return undefined;
  const [, mode, , object, size] = entry as unknown as [string, string, string, string, string];
  if (mode !== '100644' && mode !== '100755') {
    const what = mode === '120000' ? 'a symbolic link' : mode === '040000' ? 'a directory' : `mode ${mode}`;
    throw new MagratheaError(`${MANIFEST_FILE}: not a regular file in ${ref} (${what}): commit the file itself`, 'manifest-not-regular', 1, false);
  }
  if (Number(size) > MAX_MANIFEST_BYTES) {
    throw new MagratheaError(`${MANIFEST_FILE}: ${size} bytes in ${ref}, more than a manifest may hold (${MAX_MANIFEST_BYTES})`, 'manifest-too-large', 1, false);
  }
  return (await run('git', ['-C', repo, 'cat-file', 'blob', object])).stdout;
}
