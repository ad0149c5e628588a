import { run } from '../adapters/exec.js';
import { Rejection } from './rejection.js';

const ZERO = /^0+$/;

/**
 * The branch must still be where the pusher saw it (`oldRev`; all zeros:
 * absent): a push that waited behind another of the same instance sees
 * that one's result, and is refused rather than undo it.
 */
export async function checkBranchAt(gitDir: string, gitEnv: Readonly<Record<string, string>>, ref: string, oldRev: string): Promise<void> {
  const current = (await run('git', ['--git-dir', gitDir, 'rev-parse', '--verify', '--quiet', ref], { reject: false, env: gitEnv })).stdout.trim();
  if ((current || '0'.repeat(40)) !== oldRev && !(ZERO.test(oldRev) && !current)) {
    throw new Rejection(`${ref.slice('refs/heads/'.length)} moved to ${current.slice(0, 12)} while this push waited: pull, then push again`);
  }
}
