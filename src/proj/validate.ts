import type { GroupSpec, SinkSpec, WorkRoot } from '../config/work-root.js';
import { sinkCounts, sourceCounts } from './stat.js';

/**
 * `wproj validate sink-file`, WarpParse's algorithm: per group a denominator by `basis`
 * (total_input: --input-cnt or the enabled sources' line count; group_input: the sum of the
 * group's sinks); groups below `min_samples` (or with 0) are ignored with a warning; each sink's
 * ratio is checked against ratio±tol or [min,max]; then `others_max` (lines of sinks without an
 * expect over the denominator) and `sum_tol` (|Σ actual − Σ expected| over the sinks with a ratio).
 * Severity follows the group's `mode` (error → ERROR, warn → WARN, ignore → none).
 */
export type Severity = 'ERROR' | 'WARN';

export interface Issue {
  severity: Severity;
  group: string;
  sink?: string;
  msg: string;
}

export interface SinkVerdict {
  group: string;
  sink: string;
  lines: number;
  denom: number;
  actual: number;
  expected: string;
  verdict: 'OK' | 'Out of range' | 'Ignored' | '-';
}

export interface ValidateReport {
  verdict: 'PASS' | 'WARN' | 'FAIL';
  pass: boolean;
  totalInput: number;
  totalInputSource: 'override' | 'sources';
  issues: Issue[];
  sinks: SinkVerdict[];
}

const EPS = 1e-12;
export const fmtNum = (n: number): string => String(Number(n.toFixed(3)));

const hasExpect = (x: SinkSpec['expect']): x is NonNullable<SinkSpec['expect']> => x !== undefined && (x.ratio !== undefined || x.min !== undefined || x.max !== undefined);

export function validateSinks(wr: WorkRoot, inputCnt?: number): ValidateReport {
  const totalInput = inputCnt ?? sourceCounts(wr).total;
  const counts = sinkCounts(wr);
  const linesOf = (g: string, s: string): number => counts.items.find((i) => i.group === g && i.sink === s)?.lines ?? 0;
  const uncounted = (g: string, s: string): string | undefined => counts.uncounted.find((i) => i.group === g && i.sink === s)?.type;
  const issues: Issue[] = [];
  const sinks: SinkVerdict[] = [];
  for (const g of [...wr.groups.filter((x) => x.kind === 'business'), ...wr.groups.filter((x) => x.kind === 'infra')]) {
    validateGroup(g, totalInput, linesOf, uncounted, issues, sinks);
  }
  const errors = issues.filter((i) => i.severity === 'ERROR').length;
  const warns = issues.length - errors;
  const verdict = errors > 0 ? 'FAIL' : warns > 0 ? 'WARN' : 'PASS';
  return { verdict, pass: errors === 0, totalInput, totalInputSource: inputCnt === undefined ? 'sources' : 'override', issues, sinks };
}

function validateGroup(
  g: GroupSpec,
  totalInput: number,
  linesOf: (g: string, s: string) => number,
  uncounted: (g: string, s: string) => string | undefined,
  issues: Issue[],
  out: SinkVerdict[],
): void {
  const e = g.expect;
  const lines = g.sinks.map((s) => linesOf(g.name, s.name));
  const denom = e.basis === 'group_input' ? lines.reduce((a, b) => a + b, 0) : totalInput;
  const severity: Severity | undefined = e.mode === 'error' ? 'ERROR' : e.mode === 'warn' ? 'WARN' : undefined;
  const add = (msg: string, sink?: string): void => {
    if (severity) issues.push({ severity, group: g.name, ...(sink ? { sink } : {}), msg });
  };
  const ignored = denom === 0 || denom < e.min_samples;
  if (ignored && g.sinks.some((s) => hasExpect(s.expect))) {
    issues.push({ severity: 'WARN', group: g.name, msg: denom === 0 ? 'ignored: denominator is zero (no samples)' : `ignored: samples ${denom} < min_samples ${e.min_samples}` });
  }
  let sumActual = 0;
  let sumExpected = 0;
  let others = 0;
  g.sinks.forEach((s, i) => {
    const n = lines[i]!;
    const r = denom > 0 ? n / denom : 0;
    const x = s.expect;
    const base = { group: g.name, sink: s.name, lines: n, denom, actual: r };
    const type = uncounted(g.name, s.name);
    if (type && x && hasExpect(x)) {
      issues.push({ severity: 'WARN', group: g.name, sink: s.name, msg: `a ${type} sink has no file to count: its expect is not checked` });
      out.push({ ...base, expected: x.ratio !== undefined ? `${fmtNum(x.ratio)}±${fmtNum(x.tol ?? 0)}` : `[${fmtNum(x.min ?? 0)} ~ ${x.max === undefined ? '∞' : fmtNum(x.max)}]`, verdict: 'Ignored' });
      return;
    }
    if (!x || !hasExpect(x)) {
      others += n;
      out.push({ ...base, expected: '-', verdict: '-' });
      return;
    }
    if (x.ratio !== undefined) {
      const tol = x.tol ?? 0;
      sumActual += r;
      sumExpected += x.ratio;
      const ok = ignored || Math.abs(r - x.ratio) <= tol + EPS;
      if (!ok) add(`ratio out of range: actual=${fmtNum(r)}, expect=${fmtNum(x.ratio)}±${fmtNum(tol)} (lines=${n}, denom=${denom})`, s.name);
      out.push({ ...base, expected: `${fmtNum(x.ratio)}±${fmtNum(tol)}`, verdict: ignored ? 'Ignored' : ok ? 'OK' : 'Out of range' });
      return;
    }
    const min = x.min ?? 0;
    const max = x.max ?? Infinity;
    const ok = ignored || (r >= min - EPS && r <= max + EPS);
    if (!ok) add(`ratio not in [${fmtNum(min)}, ${fmtNum(max)}]: actual=${fmtNum(r)} (lines=${n}, denom=${denom})`, s.name);
    out.push({ ...base, expected: `[${fmtNum(min)} ~ ${max === Infinity ? '∞' : fmtNum(max)}]`, verdict: ignored ? 'Ignored' : ok ? 'OK' : 'Out of range' });
  });
  if (ignored) return;
  if (e.others_max !== undefined && others / denom > e.others_max + EPS) {
    add(`others_max exceeded: sinks without an expect hold ${fmtNum(others / denom)} of ${denom} (max ${fmtNum(e.others_max)})`);
  }
  if (e.sum_tol !== undefined && sumExpected > 0 && Math.abs(sumActual - sumExpected) > e.sum_tol + EPS) {
    add(`sum_tol exceeded: sinks with a ratio sum to ${fmtNum(sumActual)}, expected ${fmtNum(sumExpected)}±${fmtNum(e.sum_tol)}`);
  }
}
