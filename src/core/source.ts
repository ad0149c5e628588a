import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';

/** A place in a YAML file, 1-based like editors and compilers print it. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/** One thing wrong with an input, where it is, and what to do about it. */
export interface Problem extends SourcePosition {
  /** Dotted path of the offending value (`environments.staging.clusters.1`), '' for the whole file. */
  path: string;
  message: string;
}

export type Path = readonly (string | number)[];

export function formatProblem(problem: Problem): string {
  const where = problem.path ? `${problem.path}: ` : '';
  return `${problem.file}:${problem.line}:${problem.col}: ${where}${problem.message}`;
}

export function formatPath(path: Path): string {
  return path.map(String).join('.');
}

/** Sort by file, line, column; drop exact repeats (one bad value reached from several layers). */
export function sortProblems(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const key = formatProblem(p);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

/**
 * A parsed YAML file that remembers where each value came from, so that
 * errors found on the plain JS value can name the line and column.
 *
 * Every scalar is read as a string (the YAML failsafe schema): `php: 8.10`
 * stays "8.10" instead of becoming the number 8.1, `NO` stays "NO". Numbers
 * are parsed by the schema that expects them.
 */
export class YamlSource {
  readonly value: unknown;

  private constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {
    this.value = doc.toJS({ maxAliasCount: 50 });
  }

  static parse(file: string, text: string): { source: YamlSource } | { problems: Problem[] } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { schema: 'failsafe', lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const errors = [...doc.errors];
    if (errors.length > 0) {
      return {
        problems: errors.map((e) => {
          const at = lines.linePos(e.pos[0]);
          return { file, line: at.line, col: at.col, path: '', message: firstLine(e.message) };
        }),
      };
    }
    try {
      return { source: new YamlSource(file, doc, lines) };
    } catch (e) {
      // Alias expansion past the limit (a "billion laughs" file) lands here.
      return { problems: [{ file, line: 1, col: 1, path: '', message: firstLine((e as Error).message) }] };
    }
  }

  /**
   * Where the value at `path` is written. With `on: 'key'`, the key of the
   * last segment (for "unknown key" errors). A path that does not exist
   * points at the deepest part of it that does: for a missing key, its map.
   */
  positionOf(path: Path, on: 'key' | 'value' = 'value'): SourcePosition {
    let node: unknown = this.doc.contents;
    let keyNode: unknown;
    let best: unknown = node;
    for (const segment of path) {
      keyNode = undefined;
      if (isMap(node)) {
        const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value ?? pair.key;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (item === undefined) break;
        node = item;
      } else {
        break;
      }
      best = on === 'key' && keyNode !== undefined && segment === path[path.length - 1] ? keyNode : node;
    }
    return this.positionOfNode(best);
  }

  private positionOfNode(node: unknown): SourcePosition {
    const range = (node as Node | undefined)?.range;
    const at = range ? this.lines.linePos(range[0]) : { line: 1, col: 1 };
    return { file: this.file, line: at.line, col: at.col };
  }

  problem(path: Path, message: string, on: 'key' | 'value' = 'value'): Problem {
    return { ...this.positionOf(path, on), path: formatPath(path), message };
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
