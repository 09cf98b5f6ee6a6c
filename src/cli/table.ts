import type { Progress, StatTable } from '../platform/stat-table.js';

/** A plain markdown-style table for the terminal; numbers right-aligned. */
export function renderTable(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[], isNum: (i: number) => boolean): string =>
    `| ${r.map((c, i) => (isNum(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  return [
    line(headers, () => false),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.map((r) => line(r, (i) => numeric[i]!)),
  ].join('\n');
}

/** A StatTable as text: its title line, then the table. */
export function renderStatTable(t: StatTable): string {
  return `${t.title}\n${renderTable(t.headers, t.rows)}`;
}

/** A 20-cell bar: `[#####...............] 25% 250/1000 lines`. */
export function renderProgress(p: Progress): string {
  const pct = p.total === 0 ? 100 : Math.floor((100 * p.done) / p.total);
  return `[${'#'.repeat(Math.floor(pct / 5)).padEnd(20, '.')}] ${pct}% ${p.done}/${p.total} lines`;
}
