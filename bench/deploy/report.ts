import type { Measured } from './tool.js';

/** What one tool did in the run. */
export interface ToolRecord {
  name: string;
  does: string;
  lacks: string;
  /** The versions used, as the tool's prepare told. */
  version?: string;
  first: Measured[];
  redeploy: Measured[];
  /** Why the tool stopped being measured (or never was). */
  error?: string;
}

export interface Goal {
  /** The tool Magrathea is compared with. */
  against: string;
  /** Which deploy the goal is of. */
  of: 'first' | 'redeploy';
  /** Magrathea's deploy at most this many times the other's. */
  atMost: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const seconds = (xs: readonly Measured[]): number[] => xs.map((m) => m.seconds);
const fmt = (s: number): string => (Number.isNaN(s) ? '-' : `${s.toFixed(2)} s`);

function cell(xs: readonly Measured[]): string {
  if (xs.length === 0) return '-';
  const s = seconds(xs);
  return `${fmt(median(s))}  (${Math.min(...s).toFixed(2)}-${Math.max(...s).toFixed(2)}, n=${xs.length})`;
}

/** The closing report: medians, ratios against Magrathea, goals, where Magrathea's time goes, what each tool does. */
export function formatReport(records: readonly ToolRecord[], goals: readonly Goal[]): string {
  const out: string[] = [];
  const rows = [['TOOL', 'FIRST DEPLOY median (min-max, n)', '1-FILE REDEPLOY median (min-max, n)']].concat(records.map((r) => [r.name, cell(r.first), cell(r.redeploy)]));
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  out.push(...rows.map((row) => row.map((v, c) => v.padEnd(widths[c]!)).join('   ').trimEnd()));

  const ours = records.find((r) => r.name === 'Magrathea');
  if (ours) {
    out.push('', 'ratios, Magrathea / other (medians; below 1: Magrathea is faster)');
    for (const other of records.filter((r) => r !== ours)) {
      const measured = { first: median(seconds(ours.first)) / median(seconds(other.first)), redeploy: median(seconds(ours.redeploy)) / median(seconds(other.redeploy)) };
      const verdicts = goals.filter((g) => g.against === other.name).map((g) => `${g.of === 'first' ? 'first' : 'redeploy'} goal <= ${g.atMost}: ${verdict(measured[g.of], g.atMost)}`);
      out.push(`  / ${other.name.padEnd(14)} first deploy ${ratio(measured.first)}   1-file redeploy ${ratio(measured.redeploy)}${verdicts.length > 0 ? `   ${verdicts.join(', ')}` : ''}`);
    }
    out.push('', ...phases(ours));
  }

  out.push('', 'what each measured deploy does (wall clock of the whole command or call)');
  for (const r of records) out.push(`  ${r.name}${r.version ? ` (${r.version})` : ''}: ${r.does}`, `    not included: ${r.lacks}`);
  const failed = records.filter((r) => r.error);
  if (failed.length > 0) {
    out.push('', 'not measured, or not to the end:');
    for (const r of failed) out.push(`  ${r.name}: ${r.error}`);
  }
  return out.join('\n') + '\n';
}

function verdict(x: number, atMost: number): string {
  return Number.isNaN(x) ? 'not measured' : x <= atMost ? 'met' : 'MISSED';
}

function ratio(x: number): string {
  return Number.isNaN(x) ? '   -' : x.toFixed(2).padStart(5);
}

function phases(record: ToolRecord): string[] {
  const lines = ['Magrathea, where the time goes (median seconds per phase)'];
  for (const [label, runs] of [['first deploy', record.first], ['1-file redeploy', record.redeploy]] as const) {
    const names = [...new Set(runs.flatMap((m) => Object.keys(m.phases ?? {})))];
    if (names.length === 0) continue;
    lines.push(`  ${label.padEnd(16)} ${names.map((n) => `${n} ${median(runs.map((m) => m.phases?.[n] ?? 0)).toFixed(2)}`).join(', ')}`);
  }
  const sent = record.redeploy.flatMap((m) => m.transferred ?? []);
  if (sent.length > 0) lines.push(`  files rsync sent per host on the 1-file redeploys: ${[...new Set(sent)].join(', ')} (the changed file and REVISION)`);
  const firstSent = record.first.flatMap((m) => m.transferred ?? []);
  if (firstSent.length > 0) lines.push(`  files rsync sent per host on the first deploys: ${[...new Set(firstSent)].join(', ')}`);
  lines.push('  phases: export = kept checkout updated + hard-linked copy + manifest; build = buildRelease; connect = state, render, ssh masters',
    '          (checked, and kept from the last deploy); prepare+check = rsync + host agent, and the staged configs checked by the real tools',
    '          as soon as they are on their host; switch+verify = configs in place, current switched, reloads, ban, health checks, cleanup');
  return lines;
}
