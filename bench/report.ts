/**
 * Result rows, the printed table and the JSON file. A row is one metric measured against up to
 * three targets; a cell is a number or "n/a" with the reason (the scenario failed on that target).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import type { TargetName } from './targets.js';

export type Cell = { value: number } | { na: string };

export interface Row {
  section: string;
  label: string;
  unit: string;
  better: 'lower' | 'higher';
  target?: { op: '<=' | '>='; value: number };
  cells: Partial<Record<TargetName, Cell>>;
}

export const COLUMNS: { name: TargetName; title: string }[] = [
  { name: 'opsbox', title: 'opsbox' },
  { name: 'moto', title: 'moto_server' },
  { name: 'bare', title: 'bare node' },
];

/** A row maker for one section: `mk(label, unit, better, target?)` gives an empty row to fill. */
export const rowsOf =
  (section: string) =>
  (label: string, unit: string, better: Row['better'], target?: Row['target']): Row => ({
    section,
    label,
    unit,
    better,
    target,
    cells: {},
  });

export const na = (reason: unknown): Cell => ({ na: reason instanceof Error ? reason.message : String(reason) });
export const val = (value: number): Cell => (Number.isFinite(value) ? { value } : { na: 'no successful sample' });

function fmtNumber(v: number) {
  if (v >= 1000) return Math.round(v).toLocaleString('en-US');
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** opsbox's advantage over another target: >1 means opsbox is better, whatever the direction. */
export function advantage(row: Row, other: TargetName): number | undefined {
  const a = row.cells.opsbox,
    b = row.cells[other];
  if (!a || !b || !('value' in a) || !('value' in b) || a.value === 0 || b.value === 0) return undefined;
  return row.better === 'higher' ? a.value / b.value : b.value / a.value;
}

export function meetsTarget(row: Row): boolean | undefined {
  const c = row.cells.opsbox;
  if (!row.target || !c || !('value' in c)) return undefined;
  return row.target.op === '<=' ? c.value <= row.target.value : c.value >= row.target.value;
}

export function renderTable(rows: Row[]): string {
  const notes: string[] = [];
  const cell = (c: Cell | undefined, unit: string) => {
    if (!c) return '—';
    if ('value' in c) return `${fmtNumber(c.value)} ${unit}`;
    let i = notes.indexOf(c.na);
    if (i < 0) i = notes.push(c.na) - 1;
    return `n/a [${i + 1}]`;
  };
  const header = ['scenario', ...COLUMNS.map((c) => c.title), 'target', 'opsbox vs moto', 'opsbox vs bare'];
  const body: string[][] = [];
  let section = '';
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      body.push([section]);
    }
    const ok = meetsTarget(r);
    const vsMoto = advantage(r, 'moto');
    const vsBare = advantage(r, 'bare');
    body.push([
      `  ${r.label}`,
      ...COLUMNS.map((c) => cell(r.cells[c.name], r.unit)),
      r.target
        ? `${r.target.op === '<=' ? '≤' : '≥'} ${fmtNumber(r.target.value)} ${r.unit}${ok === undefined ? '' : ok ? ' ✓' : ' ✗'}`
        : '',
      vsMoto === undefined ? '' : `${fmtNumber(vsMoto)}× ${vsMoto >= 1 ? 'better' : 'worse'}`,
      vsBare === undefined ? '' : `${Math.round(vsBare * 100)}% of limit`,
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.filter((b) => b.length > 1).map((b) => (b[i] ?? '').length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '─'.repeat(w)).join('  ')];
  for (const b of body) out.push(b.length === 1 ? b[0] : line(b));
  if (notes.length) out.push('', ...notes.map((n, i) => `[${i + 1}] ${n}`));
  return out.join('\n');
}

export function machine() {
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '',
    memGiB: Math.round(totalmem() / 2 ** 30),
  };
}

export function writeJson(file: string, data: unknown) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
}
