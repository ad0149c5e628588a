import { escapeTemplate, interpolate } from '../interpolate.js';
import { sortProblems, type Problem, type SourcePosition } from '../source.js';
import { checkEnvKey, checkEnvValue, durationSeconds, show } from '../values.js';
import { DATABASE_FIELDS, DEFAULT_DATABASE_VARS, type ConfigVars, type AppDatabase, type DatabaseField, type EnvironmentDef, type InstanceConfig, type Layer, type LayerName, type Manifest, type Origin } from './types.js';
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
  env: string;
  cluster: string;
}

/** The environment fed by `branch`, if any. */
export function environmentForBranch(manifest: Manifest, branch: string): EnvironmentDef | undefined {
  return manifest.environments.find((e) => e.branch === branch);
}

/**
 * The effective configuration of one instance: base < environment < cluster
 * < config vars (app-wide, then for the cluster), placeholders replaced,
 * every value checked again with the real names, and the layer of each leaf
 * recorded. Problems point at the line that brought the bad value in.
 */
export function resolveInstance(manifest: Manifest, ref: InstanceRef, vars?: ConfigVars): { instance: InstanceConfig } | { problems: Problem[] } {
  const environment = manifest.environments.find((e) => e.name === ref.env);
  const here: SourcePosition = { file: manifest.file, line: 1, col: 1 };
  if (!environment) {
    const known = manifest.environments.map((e) => e.name).join(', ');
    return { problems: [{ ...here, path: 'environments', message: `no environment ${show(ref.env)}; the manifest has: ${known}` }] };
  }
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
  apply(environment.layer, `environments.${ref.env}`);
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
  applyVars(vars?.app, 'config vars');
  applyVars(vars?.clusters[ref.cluster], `config vars @${ref.cluster}`);

  const names = { app: ref.app, env: ref.env, cluster: ref.cluster };
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
      ...names,
      branch: environment.branch,
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
export function checkAllInstances(manifest: Manifest, app: string, vars?: ConfigVars): Problem[] {
  const problems: Problem[] = [];
  for (const environment of manifest.environments) {
    for (const cluster of environment.clusters) {
      const result = resolveInstance(manifest, { app, env: environment.name, cluster }, vars);
      if ('problems' in result) problems.push(...result.problems);
    }
  }
  return sortProblems(problems);
}
