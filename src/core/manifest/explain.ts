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

  const cells = values.map((v) => [v.path, Array.isArray(v.value) ? `[${v.value.map((x) => JSON.stringify(x)).join(', ')}]` : JSON.stringify(v.value), v.layer, v.source ?? '']);
  const head = `${instance.app}@${instance.cluster} in ${instance.env} (branch ${instance.branch}, strategy ${instance.strategy})\n\n`;
  return { instance: `${instance.app}@${instance.cluster}`, branch: instance.branch, strategy: instance.strategy, values, text: `${head}${formatTable([['KEY', 'VALUE', 'LAYER', 'SOURCE'], ...cells])}` };
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
