import { escapeTemplate, interpolate } from '../interpolate.js';
import { sortProblems, type Problem, type SourcePosition } from '../source.js';
import { checkEnvKey, checkEnvValue, durationSeconds, show } from '../values.js';
import { DATABASE_FIELDS, DEFAULT_DATABASE_VARS, type ConfigVars, type AppDatabase, type DatabaseField, type EnvironmentDef, type InstanceConfig, type Layer, type LayerName, type Manifest, type Origin } from './types.js';
import { branchInstance, matchesPattern, slugOfInstance } from './branch-pattern.js';
import { checkTemplate, leafSpec } from './validate.js';

/** Values used where no layer says anything. */
export const DEFAULTS: Record<string, string | string[]> = {
  'stack.php': '8.2',
  'stack.docroot': '.',
  domains: [],
  shared: [],
  build: [],
  // Only what the app marks cacheable (Cache-Control, Expires) is cached:
  // a PHP page that says nothing is usually dynamic.
  'cache.ttl': '0s',
  'cache.pass': [],
  'health.path': '/',
  'health.status': '200',
  // Long enough for a graceful reload on a busy host; a release that never answers is rolled back after it.
  'health.timeout': '30s',
};

interface Leaf {
  value: string | string[];
  origin: Origin;
}

export interface InstanceRef {
  app: string;
  /** An environment of the manifest, or one branch's instance of a pattern environment (`review-x`). */
  env: string;
  cluster: string;
  /** The branch that feeds the instance, when known (a review instance's own branch); default: the environment's. */
  branch?: string;
}

/** The environment fed by exactly `branch`, if any (patterns: targetForBranch). */
export function environmentForBranch(manifest: Manifest, branch: string): EnvironmentDef | undefined {
  return manifest.environments.find((e) => !e.pattern && e.branch === branch);
}

/**
 * Where a push of `branch` goes: the environment it feeds, or for a branch
 * matching a pattern its own instance of that environment (named
 * `<env>-<slug>`, see branch-pattern.ts); an error when the branch matches
 * a pattern but cannot name an instance; undefined when it feeds nothing.
 */
export function targetForBranch(manifest: Manifest, branch: string): { environment: EnvironmentDef } | { error: string } | undefined {
  const exact = environmentForBranch(manifest, branch);
  if (exact) return { environment: exact };
  const def = manifest.environments.find((e) => e.pattern && matchesPattern(e.branch, branch));
  if (!def) return undefined;
  const instance = branchInstance(def.name, def.branch, branch);
  return 'error' in instance ? instance : { environment: reviewEnvironment(def, instance.name, instance.slug) };
}

/**
 * The environment named `env`: one of the manifest's, or, for a name
 * `<env>-<slug>` of a pattern environment, that branch's instance of it
 * (validation keeps any other environment from being named so).
 */
export function findEnvironment(manifest: Manifest, env: string): EnvironmentDef | undefined {
  const exact = manifest.environments.find((e) => e.name === env);
  if (exact) return exact;
  for (const def of manifest.environments) {
    const slug = def.pattern ? slugOfInstance(def.name, env) : undefined;
    if (slug !== undefined) return reviewEnvironment(def, env, slug);
  }
  return undefined;
}

function reviewEnvironment(def: EnvironmentDef, name: string, slug: string): EnvironmentDef {
  return { ...def, name, review: { environment: def.name, slug } };
}

/**
 * The effective configuration of one instance: base < environment < cluster
 * < config vars (app-wide, then for the cluster), placeholders replaced,
 * every value checked again with the real names, and the layer of each leaf
 * recorded. Problems point at the line that brought the bad value in.
 */
export function resolveInstance(manifest: Manifest, ref: InstanceRef, vars?: ConfigVars): { instance: InstanceConfig } | { problems: Problem[] } {
  const environment = findEnvironment(manifest, ref.env);
  const here: SourcePosition = { file: manifest.file, line: 1, col: 1 };
  if (!environment) {
    const known = manifest.environments.map((e) => (e.pattern ? `${e.name}-<slug> (branches ${e.branch})` : e.name)).join(', ');
    return { problems: [{ ...here, path: 'environments', message: `no environment ${show(ref.env)}; the manifest has: ${known}` }] };
  }
  if (environment.pattern && !environment.review) {
    return {
      problems: [{ ...environment.position, path: `environments.${ref.env}`, message: `environment ${show(ref.env)} is fed by branch pattern ${show(environment.branch)}: each matching branch has an instance of its own (${ref.env}-<slug>); name one` }],
    };
  }
  const layerOf = environment.review?.environment ?? ref.env;
  if (!environment.clusters.includes(ref.cluster)) {
    return {
      problems: [{ ...environment.position, path: `environments.${ref.env}.clusters`, message: `environment ${show(ref.env)} does not deploy to cluster ${show(ref.cluster)}; its clusters are: ${environment.clusters.join(', ')}` }],
    };
  }

  const leaves = new Map<string, Leaf>();
  for (const [path, value] of Object.entries(DEFAULTS)) leaves.set(path, { value, origin: { layer: 'default' } });
  const apply = (layer: Layer | undefined, name: LayerName): void => {
    for (const [path, { value, position, items }] of layer ?? []) {
      const origin: Origin = { layer: name, position };
      if (items) origin.items = items;
      leaves.set(path, { value, origin });
    }
  };
  apply(manifest.base, 'base');
  apply(environment.layer, `environments.${layerOf}`);
  apply(manifest.clusters.get(ref.cluster)?.layer, `clusters.${ref.cluster}`);

  const problems: Problem[] = [];
  const applyVars = (values: Record<string, string> | undefined, name: LayerName): void => {
    for (const [key, value] of Object.entries(values ?? {})) {
      const problem = checkEnvKey(key) ?? checkEnvValue(value);
      if (problem) problems.push({ file: `config vars of ${ref.app}`, line: 1, col: 1, path: `env.${key}`, message: problem });
      // Config vars are secrets typed by a person: taken literally, never interpolated.
      else leaves.set(`env.${key}`, { value: escapeTemplate(value), origin: { layer: name } });
    }
  };
  // A review instance's own vars override its pattern environment's.
  const fallback = environment.review && vars?.environment;
  if (fallback) {
    applyVars(fallback.app, `config vars of ${fallback.name}`);
    applyVars(fallback.clusters[ref.cluster], `config vars of ${fallback.name} @${ref.cluster}`);
  }
  applyVars(vars?.app, 'config vars');
  applyVars(vars?.clusters[ref.cluster], `config vars @${ref.cluster}`);

  const names = { app: ref.app, env: ref.env, cluster: ref.cluster, ...(environment.review ? { branch: environment.review.slug } : {}) };
  const resolved = new Map<string, string | string[]>();
  for (const [path, leaf] of leaves) {
    const spec = leafSpec(path)!;
    const fail = (message: string, index?: number): void => {
      const position = (index === undefined ? undefined : leaf.origin.items?.[index]) ?? leaf.origin.position ?? here;
      problems.push({ ...position, path: index === undefined ? path : `${path}.${index}`, message: `${message} (for ${ref.app}@${ref.cluster} in ${ref.env})` });
    };
    const one = (template: string, index?: number): string => {
      const problem = checkTemplate(spec, template, { ...names, host: 'host' });
      if (problem) fail(problem, index);
      // Per-host values keep ${host} (and $$) for the renderer; the rest are final.
      const result = interpolate(template, names, !spec.perHost);
      return 'value' in result ? result.value : template;
    };
    resolved.set(path, Array.isArray(leaf.value) ? leaf.value.map(one) : one(leaf.value));
  }

  const domains = resolved.get('domains') as string[];
  domains.forEach((d, i) => {
    const origin = leaves.get('domains')!.origin;
    if (domains.indexOf(d) !== i) problems.push({ ...(origin.items?.[i] ?? origin.position ?? here), path: `domains.${i}`, message: `domain ${show(d)} is listed twice` });
  });
  if (problems.length > 0) return { problems: sortProblems(problems) };

  const get = (path: string): string => resolved.get(path) as string;
  const envTemplates: Record<string, string> = {};
  for (const [path, value] of resolved) if (path.startsWith('env.')) envTemplates[path.slice(4)] = value as string;
  const hooks: InstanceConfig['hooks'] = {};
  if (resolved.has('hooks.release')) hooks.release = get('hooks.release');
  if (resolved.has('hooks.timeout')) {
    hooks.timeout = get('hooks.timeout');
    hooks.timeoutSeconds = Math.max(1, Math.ceil(durationSeconds(hooks.timeout)));
  }
  const origins: Record<string, Origin> = {};
  for (const [path, leaf] of leaves) origins[path] = leaf.origin;
  const database = resolveDatabase(resolved, leaves, problems, here);
  if (problems.length > 0) return { problems: sortProblems(problems) };

  return {
    instance: {
      app: ref.app,
      env: ref.env,
      cluster: ref.cluster,
      branch: ref.branch ?? environment.branch,
      strategy: environment.strategy,
      php: get('stack.php'),
      docroot: get('stack.docroot'),
      domains,
      envTemplates,
      shared: resolved.get('shared') as string[],
      build: resolved.get('build') as string[],
      hooks,
      cache: { ttl: get('cache.ttl'), pass: resolved.get('cache.pass') as string[] },
      health: { path: get('health.path'), status: Number(get('health.status')), timeout: get('health.timeout'), timeoutSeconds: Math.max(1, Math.ceil(durationSeconds(get('health.timeout')))) },
      ...(database ? { database } : {}),
      origins,
    },
  };
}

/**
 * The instance's database, when its engine (at the last layer that says) is
 * not `none`: each field under its chosen name or the default. Two fields
 * may not share a name, nor one the app sets itself in `env` (which would
 * leave the app guessing which value it got).
 */
function resolveDatabase(resolved: Map<string, string | string[]>, leaves: Map<string, Leaf>, problems: Problem[], here: SourcePosition): AppDatabase | undefined {
  const engine = resolved.get('database.engine');
  if (engine !== 'mysql') return undefined;
  const vars = Object.fromEntries(DATABASE_FIELDS.map((f) => [f, (resolved.get(`database.vars.${f}`) as string | undefined) ?? DEFAULT_DATABASE_VARS[f]])) as AppDatabase['vars'];
  const seen = new Map<string, DatabaseField>();
  for (const field of DATABASE_FIELDS) {
    const name = vars[field];
    const origin = leaves.get(`database.vars.${field}`)?.origin ?? leaves.get('database.engine')!.origin;
    const at = { ...(origin.position ?? here), path: `database.vars.${field}` };
    const other = seen.get(name);
    if (other) problems.push({ ...at, message: `${show(name)} already holds the database's ${other}: each field needs a name of its own` });
    else if (resolved.has(`env.${name}`)) {
      const layer = leaves.get(`env.${name}`)!.origin.layer;
      problems.push({ ...at, message: `${show(name)} is also set by ${layer === 'config vars' || layer.startsWith('config vars ') ? `the ${layer} (config:unset it)` : `env in ${layer}`}; the database sets it: remove one, or give the database's ${field} another name` });
    }
    seen.set(name, field);
  }
  return { engine: 'mysql', vars };
}

/**
 * Every instance of an app that the manifest can produce, resolved with the
 * app's name: what `magrathea validate` checks beyond the file's own shape.
 */
export function checkAllInstances(manifest: Manifest, app: string, vars?: ConfigVars, branch?: string): Problem[] {
  const problems: Problem[] = [];
  for (const environment of manifest.environments) {
    // A pattern environment is checked as the pushed branch's instance, or a sample one (`review-sample`).
    const target = environment.pattern && branch !== undefined ? targetForBranch(manifest, branch) : undefined;
    const env = target && 'environment' in target && target.environment.review?.environment === environment.name ? target.environment.name : environment.pattern ? `${environment.name}-sample` : environment.name;
    for (const cluster of environment.clusters) {
      const result = resolveInstance(manifest, { app, env, cluster }, vars);
      if ('problems' in result) problems.push(...result.problems);
    }
  }
  return sortProblems(problems);
}
