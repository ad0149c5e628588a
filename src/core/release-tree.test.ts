import { describe, expect, it } from '@jest/globals';
import { checkReleaseTree, type TreeEntry } from './release-tree.js';

const file = (path: string, size = 10, mode = 0o644): TreeEntry => ({ path, kind: 'file', mode, size });
const dir = (path: string, mode = 0o755): TreeEntry => ({ path, kind: 'dir', mode, size: 0 });
const link = (path: string, target: string): TreeEntry => ({ path, kind: 'link', mode: 0o777, size: 0, target });

const check = (entries: TreeEntry[], shared: string[] = [], maxSize = 1e9): string[] => checkReleaseTree(entries, { shared, maxSize });

describe('checkReleaseTree', () => {
  it('lets an ordinary tree through, relative links inside it and into shared dirs included', () => {
    expect(
      check(
        [dir('public'), file('public/index.php'), dir('vendor'), dir('vendor/bin'), link('vendor/bin/phpunit', '../phpunit/phpunit'), link('public/storage', '../storage/app/public'), link('here', '.'), link('public/up', '../vendor/./bin/../bin')],
        ['storage'],
      ),
    ).toEqual([]);
  });

  it('refuses absolute links and relative ones that resolve outside the release, naming the file and the target', () => {
    expect(check([link('REVISION', '/etc/passwd'), dir('a'), dir('a/b'), link('a/b/up', '../../..'), link('top', '..')])).toEqual([
      'REVISION: link to /etc/passwd: refused: an absolute link; a link in a release must be relative and stay inside it',
      'a/b/up: link to ../../..: refused: it resolves outside the release; a link in a release must be relative and stay inside it',
      'top: link to ..: refused: it resolves outside the release; a link in a release must be relative and stay inside it',
    ]);
  });

  it('follows links within a target as the kernel does, not lexically: `s -> .` then `s/../../..` leaves the release', () => {
    // Lexically a/b/s/../../.. is the release's root; the kernel resolves s to a/b first, so it is one level above.
    const problems = check([dir('a'), dir('a/b'), link('a/b/s', '.'), link('a/b/x', 's/../../..')]);
    expect(problems).toEqual([expect.stringMatching(/^a\/b\/x: link to s\/\.\.\/\.\.\/\.\.: refused: it resolves outside the release/)]);
    expect(check([dir('a'), dir('a/b'), link('a/b/s', '.'), link('a/b/x', 's/../..')])).toEqual([]);
    expect(check([link('l1', 'l2'), link('l2', 'l1')])).toEqual([expect.stringMatching(/^l1: link to l2: refused: too many levels of links/), expect.stringMatching(/^l2: link to l1: refused: too many levels of links/)]);
  });

  it('refuses climbing out of a shared dir (a link on the hosts) or out of a directory the release does not have', () => {
    expect(check([link('x', 'storage/../..'), dir('storage'), link('storage/y', '../public')], ['storage'])).toEqual([
      expect.stringMatching(/^x: link to storage\/\.\.\/\.\.: refused: it climbs out of storage, which is not a directory of the release/),
      expect.stringMatching(/^storage\/y: link to \.\.\/public: refused: it climbs out of storage/),
    ]);
    expect(check([link('x', 'nothing/..')])).toEqual([expect.stringMatching(/^x: link to nothing\/\.\.: refused: it climbs out of nothing/)]);
  });

  it('refuses setuid and setgid bits, fifos, sockets and devices', () => {
    expect(
      check([file('x', 100, 0o6755), dir('d', 0o2775), file('ok', 1, 0o1755), { path: 'p', kind: 'fifo', mode: 0o644, size: 0 }, { path: 's', kind: 'socket', mode: 0o755, size: 0 }, { path: 'z', kind: 'char-device', mode: 0o666, size: 0 }]),
    ).toEqual([
      'x: setuid bit (mode 6755): refused; a release needs no setuid or setgid file',
      'd: setgid bit (mode 2775): refused; a release needs no setuid or setgid file',
      'p: a fifo: refused; a release holds files, directories and links only',
      's: a socket: refused; a release holds files, directories and links only',
      'z: a char device: refused; a release holds files, directories and links only',
    ]);
  });

  it('refuses a shared path that crosses a link or is not a directory; absent or a real directory is fine', () => {
    expect(check([dir('public'), link('storage', 'public')], ['storage', 'public/uploads', 'var/cache'])).toEqual([
      'shared path storage: storage is a link (to public) in the release: a shared path may not cross a link, and must be a directory or absent',
    ]);
    expect(check([dir('data'), link('data/tmp', '.'), dir('data/logs'), dir('public'), file('public/uploads')], ['data/tmp/x', 'data/logs', 'public/uploads'])).toEqual([
      'shared path data/tmp/x: data/tmp is a link (to .) in the release: a shared path may not cross a link, and must be a directory or absent',
      'shared path public/uploads: public/uploads is a file in the release: a shared path may not cross a link, and must be a directory or absent',
    ]);
  });

  it('refuses a release over the size limit, naming both', () => {
    expect(check([file('a', 600), file('b', 500)], [], 1024)).toEqual(['the release is 1.1 KiB (1100 bytes), over the limit of 1.0 KiB (builds.max_release_size)']);
    expect(check([file('a', 600), file('b', 424)], [], 1024)).toEqual([]);
  });
});
