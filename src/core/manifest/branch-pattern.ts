import { show } from '../values.js';

/**
 * Review environments: an environment fed by a branch pattern
 * (`branch: "review/*"`) gives each matching branch an instance of its own.
 *
 * A pattern is kept simple on purpose: one or more leading segments, then
 * `/*` (`review/*`, `team/review/*`). The `*` stands for the rest of the
 * branch name, slashes included (`review/a/b`), and never for nothing. A
 * lone `*`, a `*` inside a segment or in the middle, `?` and `[...]` are
 * refused: a pattern that could match the default branch, or that people
 * must think about to read, is a mistake waiting for a push.
 */

/** What a pattern environment's name may be at most: its instances are `<env>-<slug>`, and names are 40 characters at most. */
export const MAX_PATTERN_ENV_LENGTH = 30;

/** An instance name is a name (checkName): 40 characters at most. */
const MAX_NAME_LENGTH = 40;

/** Whether a branch value is meant as a pattern (it has a `*`). */
export function isBranchPattern(value: string): boolean {
  return value.includes('*');
}

/** Why `value` is not an accepted pattern, if it is not; the part before `*` is checked as a branch by the caller. */
export function checkBranchPattern(value: string): string | undefined {
  if (!value.endsWith('/*') || value.indexOf('*') !== value.length - 1 || value.length < 3) {
    return `${show(value)} is not a branch pattern Magrathea accepts: only a prefix and a trailing "/*" (like "review/*"): no lone "*", no "*" inside a segment, no "?" or "[...]"`;
  }
  return undefined;
}

/** `review/` for `review/*`: what a matching branch starts with. */
export function patternPrefix(pattern: string): string {
  return pattern.slice(0, -1);
}

/** Whether `branch` matches `pattern` (`review/*` matches `review/x` and `review/a/b`, not `review/` nor `review`). */
export function matchesPattern(pattern: string, branch: string): boolean {
  const prefix = patternPrefix(pattern);
  return branch.length > prefix.length && branch.startsWith(prefix);
}

/** Whether some branch matches both patterns: one's prefix starts with the other's (`review/*` and `review/team/*`). */
export function patternsOverlap(a: string, b: string): boolean {
  const pa = patternPrefix(a);
  const pb = patternPrefix(b);
  return pa.startsWith(pb) || pb.startsWith(pa);
}

/** How long the slug of a branch may be in environment `env`: what is left of a name after `<env>-`. */
export function maxSlugLength(env: string): number {
  return MAX_NAME_LENGTH - env.length - 1;
}

/**
 * The slug of what a branch adds to its pattern's prefix, as `${branch}`
 * gives it and as its instance is named: lower case, every run of
 * characters other than a-z and 0-9 one dash, no dash at either end, cut to
 * `max` characters (and any dash left at the cut dropped). GitLab's
 * CI_COMMIT_REF_SLUG works the same way. Empty when nothing of a-z, 0-9 is
 * left (`review/---`).
 */
export function branchSlug(rest: string, max: number): string {
  const slug = rest
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug.slice(0, max).replace(/-+$/, '');
}

/** The instance a branch matching a pattern environment gets: `review-x` for `review/x` in `review`. */
export interface BranchInstance {
  /** The instance's environment name: `<env>-<slug>`, a valid name. */
  name: string;
  /** What `${branch}` is in its values. */
  slug: string;
}

/** The instance of `branch` in pattern environment `env` (its pattern `pattern`), or why it cannot have one. */
export function branchInstance(env: string, pattern: string, branch: string): BranchInstance | { error: string } {
  const slug = branchSlug(branch.slice(patternPrefix(pattern).length), maxSlugLength(env));
  if (!slug) return { error: `branch ${show(branch)} matches ${show(pattern)} (environment ${env}), but has no letter or digit after "${patternPrefix(pattern)}" to name its instance by` };
  return { name: `${env}-${slug}`, slug };
}

/** For an instance name of a pattern environment (`review-x` of `review`), its slug: what follows `<env>-`, or undefined if `name` is not one of its instances. */
export function slugOfInstance(env: string, name: string): string | undefined {
  if (!name.startsWith(`${env}-`)) return undefined;
  const slug = name.slice(env.length + 1);
  return slug.length > 0 && slug.length <= maxSlugLength(env) && /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$/.test(slug) ? slug : undefined;
}
