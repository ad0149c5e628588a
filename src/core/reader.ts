import type { Path, Problem, YamlSource } from './source.js';
import { show, type Check } from './values.js';

/**
 * Reads a plain value parsed from YAML into typed data, collecting one
 * problem per bad value (with its line and column) instead of stopping at
 * the first. Every `read*` returns undefined for a bad or absent value; the
 * caller decides defaults. Used by the manifest and the gateway config.
 */
export class Reader {
  readonly problems: Problem[] = [];

  constructor(readonly source: YamlSource) {}

  fail(path: Path, message: string, on: 'key' | 'value' = 'value'): undefined {
    this.problems.push(this.source.problem(path, message, on));
    return undefined;
  }

  at(path: Path): unknown {
    let value: unknown = this.source.value;
    for (const segment of path) {
      if (value === null || typeof value !== 'object') return undefined;
      value = (value as Record<string, unknown>)[segment as string];
    }
    return value;
  }

  has(path: Path): boolean {
    const value = this.at(path);
    return value !== undefined && value !== null;
  }

  /** A map with known keys; each unknown key is a problem naming the allowed ones. */
  map(path: Path, allowed: readonly string[], what = 'a map of keys'): Record<string, unknown> | undefined {
    const value = this.at(path);
    if (value === undefined) return undefined;
    if (!isPlainMap(value)) return this.fail(path, `expected ${what}, found ${describe(value)}`);
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.fail([...path, key], `unknown key ${show(key)}; expected one of: ${allowed.join(', ')}`, 'key');
      }
    }
    return value;
  }

  /** A map whose keys are chosen by the user (env names, cluster names), each checked. */
  dict(path: Path, checkKey: Check, what = 'a map'): string[] {
    const value = this.at(path);
    if (value === undefined || value === '') return [];
    if (!isPlainMap(value)) {
      this.fail(path, `expected ${what}, found ${describe(value)}`);
      return [];
    }
    const keys: string[] = [];
    for (const key of Object.keys(value)) {
      const problem = checkKey(key);
      if (problem) this.fail([...path, key], problem, 'key');
      else keys.push(key);
    }
    return keys;
  }

  string(path: Path, check?: Check): string | undefined {
    const value = this.at(path);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') return this.fail(path, `expected a single value, found ${describe(value)}`);
    const problem = check?.(value);
    return problem ? this.fail(path, problem) : value;
  }

  required(path: Path, check?: Check): string | undefined {
    if (!this.has(path)) return this.fail(path.slice(0, -1), `missing required key ${show(String(path.at(-1)))}`);
    return this.string(path, check);
  }

  integer(path: Path, min: number, max: number): number | undefined {
    const text = this.string(path, (v) =>
      /^[0-9]{1,9}$/.test(v) && Number(v) >= min && Number(v) <= max ? undefined : `${show(v)} is not a whole number between ${min} and ${max}`,
    );
    return text === undefined ? undefined : Number(text);
  }

  oneOf<T extends string>(path: Path, values: readonly T[]): T | undefined {
    return this.string(path, (v) => (values.includes(v as T) ? undefined : `${show(v)} is not one of: ${values.join(', ')}`)) as T | undefined;
  }

  /** A list of strings; a single string is not silently taken as a list of one. */
  list(path: Path, check?: Check, max = 100): string[] | undefined {
    const value = this.at(path);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) return this.fail(path, `expected a list, found ${describe(value)}`);
    if (value.length > max) return this.fail(path, `at most ${max} items are allowed, found ${value.length}`);
    const items: string[] = [];
    let ok = true;
    value.forEach((_, i) => {
      const item = this.string([...path, i], check);
      if (item === undefined) ok = false;
      else items.push(item);
    });
    return ok ? items : undefined;
  }
}

export function isPlainMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null || value === '') return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return show(String(value));
}
