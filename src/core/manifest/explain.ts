import { interpolate } from '../interpolate.js';
import type { DatabaseField, InstanceConfig } from './types.js';
import { formatTable } from '../table.js';

export interface ExplainedValue {
  path: string;
  value: string | string[];
  layer: string;
  /** `file:line:col` of the value, for layers written in a file. */
  source?: string;
}

export interface Explanation {
  instance: string;
  branch: string;
  strategy: string;
  values: ExplainedValue[];
  text: string;
}

/**
 * The effective configuration of an instance, value by value, each with the
 * layer that set it. Config vars are masked unless `reveal`.
 */
export function explainInstance(instance: InstanceConfig, reveal = false): Explanation {
  const values: ExplainedValue[] = Object.entries(instance.origins)
    .map(([path, origin]) => {
      const secret = origin.layer.startsWith('config vars') && !reveal;
      const value = secret ? '********' : valueAt(instance, path);
      const row: ExplainedValue = { path, value, layer: origin.layer };
      if (origin.position) row.source = `${origin.position.file}:${origin.position.line}:${origin.position.col}`;
      return row;
    })
    .sort((a, b) => order(a.path) - order(b.path) || a.path.localeCompare(b.path));

  const cells = values.map((v) => [v.path, showValue(v.value), v.layer, v.source ?? '']);
  const head = `${instance.app}@${instance.cluster} in ${instance.env} (branch ${instance.branch}, strategy ${instance.strategy})\n\n`;
  return { instance: `${instance.app}@${instance.cluster}`, branch: instance.branch, strategy: instance.strategy, values, text: `${head}${formatTable([['KEY', 'VALUE', 'LAYER', 'SOURCE'], ...cells])}` };
}

function showValue(value: string | string[]): string {
  return Array.isArray(value) ? `[${value.map((x) => JSON.stringify(x)).join(', ')}]` : JSON.stringify(value);
}

const ORDER = ['stack', 'domains', 'env', 'shared', 'build', 'hooks', 'cache', 'health', 'database'];
function order(path: string): number {
  return ORDER.indexOf(path.split('.')[0]!);
}

function valueAt(instance: InstanceConfig, path: string): string | string[] {
  const [head, tail] = [path.split('.')[0]!, path.slice(path.indexOf('.') + 1)];
  switch (head) {
    case 'stack':
      return tail === 'php' ? instance.php : instance.docroot;
    case 'env': {
      // ${host} stays visible: it differs per host. $$ is shown as the $ it stands for.
      const template = instance.envTemplates[tail]!;
      const result = interpolate(template, {}, false);
      return 'value' in result ? result.value.replaceAll('$$', '$') : template;
    }
    case 'hooks':
      return tail === 'timeout' ? (instance.hooks.timeout ?? '') : (instance.hooks.release ?? '');
    case 'cache':
      return tail === 'ttl' ? instance.cache.ttl : instance.cache.pass;
    case 'health':
      return tail === 'path' ? instance.health.path : tail === 'timeout' ? instance.health.timeout : String(instance.health.status);
    case 'database':
      // No database (engine none at the last layer that says): no names either.
      if (tail === 'engine') return instance.database?.engine ?? 'none';
      return instance.database?.vars[tail.slice('vars.'.length) as DatabaseField] ?? '';
    default:
      return instance[head as 'domains' | 'shared' | 'build'];
  }
}

/** One key that two instances set differently: each side's value, layer and source, or undefined where it is not set. */
export interface ConfigDifference {
  path: string;
  sides: [ExplainedValue | undefined, ExplainedValue | undefined];
}

/**
 * The keys whose effective values differ between two instances (compared
 * revealed: two config vars that differ differ masked too), each side as
 * `explainInstance` shows it, config vars masked unless `reveal`.
 */
export function diffInstances(a: InstanceConfig, b: InstanceConfig, reveal = false): ConfigDifference[] {
  const [realA, realB] = [explainInstance(a, true).values, explainInstance(b, true).values];
  const [shownA, shownB] = [explainInstance(a, reveal).values, explainInstance(b, reveal).values];
  const at = (values: ExplainedValue[], path: string) => values.find((v) => v.path === path);
  const paths = [...new Set([...realA, ...realB].map((v) => v.path))].sort((x, y) => order(x) - order(y) || x.localeCompare(y));
  return paths
    .filter((path) => JSON.stringify(at(realA, path)?.value) !== JSON.stringify(at(realB, path)?.value))
    .map((path) => ({ path, sides: [at(shownA, path), at(shownB, path)] }));
}

/** The differences as a table: two rows per key, one per instance (`names`), with value, layer and source. */
export function formatDifferences(names: [string, string], differences: readonly ConfigDifference[]): string {
  const rows = differences.flatMap((d) => d.sides.map((side, i) => [i === 0 ? d.path : '', names[i]!, side ? showValue(side.value) : '(not set)', side?.layer ?? '', side?.source ?? '']));
  return formatTable([['KEY', 'INSTANCE', 'VALUE', 'LAYER', 'SOURCE'], ...rows]);
}
