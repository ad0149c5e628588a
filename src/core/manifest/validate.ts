import { interpolate, usesPlaceholder, type Placeholder } from '../interpolate.js';
import { Reader } from '../reader.js';
import { YamlSource, sortProblems, type Path, type Problem } from '../source.js';
import {
  checkBranch,
  checkCommand,
  checkDocroot,
  checkDomain,
  checkDuration,
  checkEnvKey,
  checkEnvValue,
  checkHealthTimeout,
  checkInteger,
  checkName,
  checkPhpVersion,
  checkRelativePath,
  checkUrlPath,
  checkUrlRegex,
  show,
  type Check,
} from '../values.js';
import { MAX_PATTERN_ENV_LENGTH, checkBranchPattern, isBranchPattern, matchesPattern, maxSlugLength, patternPrefix, patternsOverlap } from './branch-pattern.js';
import { DATABASE_ENGINES, DATABASE_FIELDS, type EnvironmentDef, type Layer, type LayerValue, type Manifest, type Strategy } from './types.js';

export const MANIFEST_FILE = 'magrathea.yml';

/** Bytes a manifest may hold: far more than any needs, and a bound on what the gateway reads of an untrusted one. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

interface LeafSpec {
  kind: 'scalar' | 'list';
  check: Check;
  /** Lists longer than this are refused. */
  max?: number;
  /** `${host}` varies per host: only values written per host may use it. */
  perHost?: boolean;
}

/** The leaves of a layer, by path; `env.*` is any variable name. */
export const LEAVES: Record<string, LeafSpec> = {
  'stack.php': { kind: 'scalar', check: checkPhpVersion },
  'stack.docroot': { kind: 'scalar', check: checkDocroot },
  domains: { kind: 'list', check: checkDomain, max: 100 },
  'env.*': { kind: 'scalar', check: checkEnvValue, perHost: true },
  shared: { kind: 'list', check: checkRelativePath, max: 50 },
  build: { kind: 'list', check: checkCommand, max: 50 },
  'hooks.release': { kind: 'scalar', check: checkCommand },
  'hooks.timeout': { kind: 'scalar', check: checkDuration },
  'cache.ttl': { kind: 'scalar', check: checkDuration },
  'cache.pass': { kind: 'list', check: checkUrlRegex, max: 50 },
  'health.path': { kind: 'scalar', check: checkUrlPath },
  'health.status': { kind: 'scalar', check: checkInteger(100, 599) },
  'health.timeout': { kind: 'scalar', check: checkHealthTimeout },
  'database.engine': { kind: 'scalar', check: checkDatabaseEngine },
  ...Object.fromEntries(DATABASE_FIELDS.map((f) => [`database.vars.${f}`, { kind: 'scalar', check: checkEnvKey } satisfies LeafSpec])),
};

const LAYER_KEYS = ['stack', 'domains', 'env', 'shared', 'build', 'hooks', 'cache', 'health', 'database'];
const SUBKEYS: Record<string, string[]> = { stack: ['php', 'docroot'], hooks: ['release', 'timeout'], cache: ['ttl', 'pass'], health: ['path', 'status', 'timeout'], database: ['engine', 'vars'] };
const ENVIRONMENT_KEYS = ['branch', 'clusters', 'strategy', ...LAYER_KEYS];
const STRATEGIES: readonly Strategy[] = ['rolling', 'parallel'];

/** Stand-ins used to check templated values before the real names are known. */
const SAMPLE: Record<Placeholder, string> = { app: 'app', env: 'env', cluster: 'cluster', host: 'host', branch: 'branch' };

function checkDatabaseEngine(value: string): string | undefined {
  return (DATABASE_ENGINES as readonly string[]).includes(value) ? undefined : `${show(value)} is not a database engine; one of: ${DATABASE_ENGINES.join(', ')} (none: no database here)`;
}

export function leafSpec(path: string): LeafSpec | undefined {
  return LEAVES[path] ?? (path.startsWith('env.') ? LEAVES['env.*'] : undefined);
}

/**
 * Checks a templated value: placeholders well formed and allowed here, and
 * the value valid once they are replaced (by `vars`, or stand-ins).
 */
export function checkTemplate(spec: LeafSpec, template: string, vars: Partial<Record<Placeholder, string>> = SAMPLE): string | undefined {
  const { host, ...names } = vars;
  const allowed = spec.perHost && host !== undefined ? { ...names, host } : names;
  const result = interpolate(template, allowed, true);
  if ('error' in result) {
    if (!result.error.includes('cannot be used here')) return result.error;
    // Only ${host} (outside env) and ${branch} (outside a pattern environment) are ever missing.
    return usesPlaceholder(template, 'branch') && vars.branch === undefined
      ? `${result.error}: \${branch} is the slug of a review instance's branch, known only in an environment fed by a branch pattern (branch: "review/*"); here one branch feeds it: write the value itself`
      : `${result.error}: \${host} differs per host and may be used in env values only`;
  }
  return spec.check(result.value);
}

/**
 * Parses and validates the text of a `magrathea.yml`. Pure: returns the
 * manifest, or every problem with its file, line and column.
 */
export function validateManifest(text: string, file = MANIFEST_FILE): { manifest: Manifest } | { problems: Problem[] } {
  const parsed = YamlSource.parse(file, text);
  if ('problems' in parsed) return { problems: parsed.problems };
  const r = new Reader(parsed.source);
  if (r.at([]) === '' || r.at([]) === undefined) {
    return { problems: [r.source.problem([], 'the file is empty; it needs at least "environments" saying which branch deploys to which clusters')] };
  }
  if (!r.map([], [...LAYER_KEYS, 'environments', 'clusters'], 'a map of keys (stack, domains, env, environments...)')) return { problems: r.problems };

  const base = readLayer(r, []);
  const environments = readEnvironments(r);
  const clusters = new Map<string, { layer: Layer; position: ReturnType<YamlSource['positionOf']> }>();
  for (const name of r.dict(['clusters'], checkName, 'a map of cluster names to overrides')) {
    if (r.has(['clusters', name, 'build'])) {
      r.fail(['clusters', name, 'build'], 'build runs once per deploy, for every cluster; it cannot differ per cluster (move it to the environment)', 'key');
    }
    clusters.set(name, { layer: readLayer(r, ['clusters', name], ['build']), position: r.source.positionOf(['clusters', name], 'key') });
    if (!environments.some((e) => e.clusters.includes(name))) {
      r.fail(['clusters', name], `cluster ${show(name)} is in no environment's clusters list (a typo?)`, 'key');
    }
  }
  if (r.problems.length > 0) return { problems: sortProblems(r.problems) };
  return { manifest: { file, base, environments, clusters } };
}

function readEnvironments(r: Reader): EnvironmentDef[] {
  const environments: EnvironmentDef[] = [];
  if (!r.has(['environments'])) {
    r.fail([], 'missing required key "environments": say which branch deploys to which clusters, e.g. environments: { production: { branch: master, clusters: [cluster-a] } }');
    return environments;
  }
  const branches = new Map<string, string>();
  const feeds: { name: string; branch: string }[] = [];
  for (const name of r.dict(['environments'], checkName, 'a map of environment names to environments')) {
    const at = ['environments', name];
    if (!r.map(at, ENVIRONMENT_KEYS, 'an environment (branch, clusters, strategy, overrides)')) {
      if (!r.has(at)) r.fail(at, 'an environment needs a branch and clusters');
      continue;
    }
    const branch = r.required([...at, 'branch'], checkFeed);
    const pattern = branch !== undefined && isBranchPattern(branch);
    if (pattern && name.length > MAX_PATTERN_ENV_LENGTH) {
      r.fail(at, `environment ${show(name)} is fed by a branch pattern: its name may be at most ${MAX_PATTERN_ENV_LENGTH} characters, so that each branch's instance (${name}-<slug>) has room for a slug of ${maxSlugLength(name)} or more`, 'key');
    }
    const clusters = r.list([...at, 'clusters'], checkName, 100);
    if (!r.has([...at, 'clusters'])) r.fail(at, 'missing required key "clusters": the clusters this environment deploys to');
    else if (clusters?.length === 0) r.fail([...at, 'clusters'], 'an environment needs at least one cluster');
    clusters?.forEach((c, i) => {
      if (clusters.indexOf(c) !== i) r.fail([...at, 'clusters', i], `cluster ${show(c)} is listed twice`);
    });
    const strategy = r.oneOf([...at, 'strategy'], STRATEGIES) ?? 'rolling';
    if (branch !== undefined) {
      const other = branches.get(branch);
      if (other) r.fail([...at, 'branch'], `branch ${show(branch)} already feeds environment ${show(other)}; a push must map to one environment`);
      else checkFeedsApart(r, at, name, branch, feeds);
      branches.set(branch, name);
      feeds.push({ name, branch });
    }
    const layer = readLayer(r, at, ['branch', 'clusters', 'strategy']);
    if (branch !== undefined && clusters !== undefined) {
      const clusterPositions = clusters.map((_, i) => r.source.positionOf([...at, 'clusters', i]));
      environments.push({ name, branch, pattern, clusters, clusterPositions, strategy, layer, position: r.source.positionOf(at, 'key') });
    }
  }
  if (environments.length === 0 && r.problems.length === 0) r.fail(['environments'], 'at least one environment is needed');
  return environments;
}

/** A branch or a branch pattern (`review/*`): see branch-pattern.ts for what a pattern may be. */
function checkFeed(value: string): string | undefined {
  if (!isBranchPattern(value)) return checkBranch(value);
  return checkBranchPattern(value) ?? (checkBranch(patternPrefix(value).slice(0, -1)) && `${show(value)}: the part before "/*" is not a valid branch name (letters, digits, '.', '_', '-', '/')`);
}

/**
 * A push must map to one instance: no branch may match two patterns, nor
 * an exact branch and a pattern, and no environment may be named like the
 * instances of a pattern environment (`review-x` beside `review`).
 * Reported on the later of the two, naming the earlier.
 */
function checkFeedsApart(r: Reader, at: Path, name: string, branch: string, earlier: readonly { name: string; branch: string }[]): void {
  const pattern = isBranchPattern(branch);
  for (const other of earlier) {
    const otherPattern = isBranchPattern(other.branch);
    let problem: string | undefined;
    if (pattern && otherPattern && patternsOverlap(branch, other.branch)) problem = `pattern ${show(branch)} overlaps ${show(other.branch)} of environment ${show(other.name)}: a branch may match only one pattern`;
    else if (pattern && !otherPattern && matchesPattern(branch, other.branch)) problem = `pattern ${show(branch)} also matches branch ${show(other.branch)}, which feeds environment ${show(other.name)}: a push must map to one environment`;
    else if (!pattern && otherPattern && matchesPattern(other.branch, branch)) problem = `branch ${show(branch)} is also matched by pattern ${show(other.branch)} of environment ${show(other.name)}: a push must map to one environment`;
    if (problem) r.fail([...at, 'branch'], problem);
    const pairs: [string, string][] = [];
    if (pattern) pairs.push([name, other.name]);
    if (otherPattern) pairs.push([other.name, name]);
    for (const [patternEnv, named] of pairs) {
      if (named.startsWith(`${patternEnv}-`)) r.fail(at, `environment ${show(named)} is named like an instance of pattern environment ${show(patternEnv)} (its branches' instances are ${patternEnv}-<slug>): rename one`, 'key');
    }
  }
}

/** Reads the layer keys under `at` into flat leaves, checking each value. */
function readLayer(r: Reader, at: Path, extraKeys: string[] = []): Layer {
  const layer: Layer = new Map();
  if (at.length > 0 && !r.map(at, [...LAYER_KEYS, ...extraKeys], 'a map of overrides (stack, domains, env...)')) return layer;
  for (const key of LAYER_KEYS) {
    if (key === 'build' && extraKeys.includes('build')) continue;
    if (!r.has([...at, key])) continue;
    if (key === 'env') {
      for (const name of r.dict([...at, 'env'], checkEnvKey, 'a map of variable names to values')) readLeaf(r, layer, at, ['env', name], `env.${name}`);
    } else if (key === 'database') {
      if (!r.map([...at, key], SUBKEYS.database!, 'a database: { engine: mysql, vars: { url: DATABASE_URL, ... } }')) continue;
      readLeaf(r, layer, at, [key, 'engine'], 'database.engine');
      if (!r.has([...at, key, 'vars']) || !r.map([...at, key, 'vars'], DATABASE_FIELDS, `the names of the variables the app reads (${DATABASE_FIELDS.join(', ')})`)) continue;
      for (const field of DATABASE_FIELDS) readLeaf(r, layer, at, [key, 'vars', field], `database.vars.${field}`);
    } else if (SUBKEYS[key]) {
      if (!r.map([...at, key], SUBKEYS[key])) continue;
      for (const sub of SUBKEYS[key]) readLeaf(r, layer, at, [key, sub], `${key}.${sub}`);
    } else {
      readLeaf(r, layer, at, [key], key);
    }
  }
  return layer;
}

function readLeaf(r: Reader, layer: Layer, at: Path, rel: Path, leaf: string): void {
  const path = [...at, ...rel];
  if (!r.has(path) && r.at(path) !== '') return;
  const spec = leafSpec(leaf)!;
  const check: Check = (v) => checkTemplate(spec, v);
  const value = spec.kind === 'list' ? r.list(path, check, spec.max) : r.string(path, check);
  if (value === undefined) return;
  const entry: LayerValue = { value, position: r.source.positionOf(path) };
  if (Array.isArray(value)) entry.items = value.map((_, i) => r.source.positionOf([...path, i]));
  layer.set(leaf, entry);
}
