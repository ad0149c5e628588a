/**
 * `${app}`, `${env}`, `${cluster}`, `${host}` and `${branch}` (the slug of a
 * review instance's branch) in manifest strings.
 * `$$` is a literal `$`; any other `$` is itself. An unknown or unclosed
 * `${...}` is an error, so a typo never reaches a config file.
 */
export const PLACEHOLDERS = ['app', 'env', 'cluster', 'host', 'branch'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

export type Interpolation = { value: string } | { error: string };

/**
 * Replaces the placeholders given in `vars`. Placeholders known but absent
 * from `vars` are kept as written (with `$$` kept too), for a later pass
 * (the per-host one). With `final`, `$$` becomes `$`.
 */
export function interpolate(template: string, vars: Partial<Record<Placeholder, string>>, final: boolean): Interpolation {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = template[i + 1];
    if (next === '$') {
      out += final ? '$' : '$$';
      i++;
    } else if (next === '{') {
      const end = template.indexOf('}', i + 2);
      if (end < 0) return { error: `unclosed "\${" (write "$$" for a literal "$")` };
      const name = template.slice(i + 2, end);
      if (!PLACEHOLDERS.includes(name as Placeholder)) {
        return { error: `unknown placeholder "\${${name}}"; known ones: ${PLACEHOLDERS.map((p) => `\${${p}}`).join(', ')} (write "$$" for a literal "$")` };
      }
      const value = vars[name as Placeholder];
      if (value === undefined) {
        if (final) return { error: `"\${${name}}" cannot be used here` };
        out += template.slice(i, end + 1);
      } else {
        out += value;
      }
      i = end;
    } else {
      out += c;
    }
  }
  return { value: out };
}

/** Writes a literal string so that interpolation gives it back unchanged (config vars are never interpolated). */
export function escapeTemplate(literal: string): string {
  // A function, since a replacement string '$$' would mean one '$'.
  return literal.replaceAll('$', () => '$$');
}

export function usesPlaceholder(template: string, name: Placeholder): boolean {
  return template.replaceAll('$$', '').includes(`\${${name}}`);
}
