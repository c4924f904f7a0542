// Turns a bench JSON file (bench/harness.ts writeJson: {meta, records}, or a bare record array)
// into a grouped bar chart PNG (ours vs every peer, per case; drawn by bench/chart/) and a markdown
// table for the README.
// Usage: npx tsx bench/report.ts results.json [--png chart.png] [--md table.md] [--title TEXT]
// With neither --png nor --md the markdown goes to stdout.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderBarChart, type BarChart, type BarPanel, type BarSeries } from './chart/bars.ts';
import { fmtNum, type BenchFile, type BenchMeta, type BenchRecord } from './harness.ts';

export const OURS = 'glass-ts';

const SERIES_COLORS: Record<string, string> = {
  [OURS]: '#2f5fb3',
  'tfjs-webgpu': '#f28e2b',
  'torch-cpu-1t': '#59a14f',
  'torch-cpu-2t': '#2e6b2a',
};
const EXTRA_COLORS = ['#b07aa1', '#e15759', '#76b7b2', '#9c755f', '#edc948'];

type Unit = 'GFLOP/s' | 'GB/s' | 'ms';

interface Row {
  suite: string;
  case: string;
  shape: string;
  unit: Unit;
  ours: { ms: number; rate: number | null } | null;
  peers: Map<string, { ms: number; rate: number | null; ratio: number | null }>;
}

/** Reads and checks a bench JSON file. */
export function loadBench(file: string): BenchFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`bench/report: cannot read ${file}: ${(err as Error).message}`);
  }
  return normalizeBench(raw, file);
}

export function normalizeBench(raw: unknown, where = 'input'): BenchFile {
  const obj = raw as { meta?: BenchMeta; records?: unknown };
  const records = Array.isArray(raw) ? raw : obj?.records;
  if (!Array.isArray(records)) throw new Error(`bench/report: ${where} has no records array`);
  records.forEach((r, i) => {
    const x = r as Partial<BenchRecord>;
    if (typeof x?.case !== 'string' || typeof x.suite !== 'string') {
      throw new Error(`bench/report: ${where} record ${i} lacks suite/case strings`);
    }
  });
  return { meta: (!Array.isArray(raw) && obj.meta) || { date: '' }, records: records as BenchRecord[] };
}

function unitOf(recs: BenchRecord[]): Unit {
  if (recs.some((r) => r.gflops !== undefined || r.peer?.gflops !== undefined)) return 'GFLOP/s';
  if (recs.some((r) => r.gbps !== undefined || r.peer?.gbps !== undefined)) return 'GB/s';
  return 'ms';
}

function rateIn(unit: Unit, x: { gflops?: number; gbps?: number }): number | null {
  if (unit === 'GFLOP/s') return x.gflops ?? null;
  if (unit === 'GB/s') return x.gbps ?? null;
  return null;
}

/** One row per (suite, case, shape), in first-seen order, holding ours and every peer. */
export function collectRows(records: readonly BenchRecord[]): { rows: Row[]; peers: string[] } {
  const byKey = new Map<string, BenchRecord[]>();
  for (const r of records) {
    const k = `${r.suite}\u0000${r.case}\u0000${r.shape}`;
    const list = byKey.get(k);
    if (list) list.push(r);
    else byKey.set(k, [r]);
  }
  const peers: string[] = [];
  const rows: Row[] = [];
  for (const recs of byKey.values()) {
    const unit = unitOf(recs);
    const o = recs.find((r) => r.ms_median !== null && r.ms_median !== undefined);
    const row: Row = {
      suite: recs[0].suite,
      case: recs[0].case,
      shape: recs[0].shape,
      unit,
      ours: o ? { ms: o.ms_median as number, rate: rateIn(unit, o) } : null,
      peers: new Map(),
    };
    for (const r of recs) {
      if (!r.peer || row.peers.has(r.peer.name)) continue;
      if (!peers.includes(r.peer.name)) peers.push(r.peer.name);
      row.peers.set(r.peer.name, { ms: r.peer.ms_median, rate: rateIn(unit, r.peer), ratio: r.ratio ?? null });
    }
    rows.push(row);
  }
  return { rows, peers };
}

function seriesFor(hasOurs: boolean, peers: string[]): BarSeries[] {
  let extra = 0;
  const names = hasOurs ? [OURS, ...peers] : peers;
  return names.map((name) => ({ name, color: SERIES_COLORS[name] ?? EXTRA_COLORS[extra++ % EXTRA_COLORS.length] }));
}

function metaLine(m: BenchMeta): string {
  const parts: string[] = [];
  if (m.adapter) parts.push(m.driver ? `${m.adapter} (${m.driver})` : m.adapter);
  if (m.host) parts.push(`host ${m.host}`);
  if (m.cpus) parts.push(`${m.cpus} CPUs`);
  if (m.loadavg?.length) parts.push(`load ${m.loadavg[0].toFixed(2)}`);
  if (m.date) parts.push(m.date.slice(0, 16).replace('T', ' '));
  return parts.join(', ');
}

/** The chart description (series, one panel per unit) for a bench file. */
export function buildChart(f: BenchFile, title?: string): BarChart {
  const { rows, peers } = collectRows(f.records);
  if (rows.length === 0) throw new Error('bench/report: no records to chart');
  const hasOurs = rows.some((r) => r.ours);
  const series = seriesFor(hasOurs, peers);
  const multiSuite = new Set(rows.map((r) => r.suite)).size > 1;
  const panels: BarPanel[] = [];
  for (const unit of ['GFLOP/s', 'GB/s', 'ms'] as Unit[]) {
    const rs = rows.filter((r) => r.unit === unit);
    if (rs.length === 0) continue;
    const value = (x: { ms: number; rate: number | null } | undefined | null) => (!x ? null : unit === 'ms' ? x.ms : x.rate);
    panels.push({
      title: unit === 'GFLOP/s' ? 'Compute' : unit === 'GB/s' ? 'Memory-bound' : 'Time',
      yLabel: unit === 'ms' ? 'ms per op, lower is better' : `${unit}, higher is better`,
      groups: rs.map((r) => ({
        label: r.case,
        sublabel: multiSuite ? `${r.suite}: ${r.shape}` : r.shape,
        values: series.map((s) => (s.name === OURS && hasOurs ? value(r.ours) : value(r.peers.get(s.name)))),
      })),
    });
  }
  return {
    title: title ?? (hasOurs ? `${OURS} vs peers` : 'Peer baselines'),
    subtitle: metaLine(f.meta) || undefined,
    series,
    panels,
  };
}

export function renderReportPNG(f: BenchFile, title?: string): Buffer {
  return renderBarChart(buildChart(f, title)).toPNG();
}

function cell(x: { ms: number; rate: number | null } | undefined | null, unit: Unit): string {
  if (!x) return '-';
  const ms = `${fmtNum(x.ms)} ms`;
  return unit === 'ms' || x.rate === null ? ms : `${fmtNum(x.rate)} ${unit} (${ms})`;
}

/** Ratios keep two significant digits below 1 (0.0084x), two decimals up to 10, then whole numbers. */
export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return '-';
  if (r >= 10) return r.toFixed(0);
  if (r >= 1) return r.toFixed(2);
  return String(Number(r.toPrecision(2)));
}

/** Markdown table: one row per case, a column for ours and for each peer. */
export function markdownTable(f: BenchFile): string {
  const { rows, peers } = collectRows(f.records);
  const hasOurs = rows.some((r) => r.ours);
  const multiSuite = new Set(rows.map((r) => r.suite)).size > 1;
  const cols = [...(multiSuite ? ['suite'] : []), 'case', 'shape', ...(hasOurs ? [OURS] : []), ...peers];
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines: string[] = [];
  const ml = metaLine(f.meta);
  if (ml) lines.push(`Measured on ${ml}.`, '');
  lines.push(`| ${cols.join(' | ')} |`);
  lines.push(`| ${cols.map((c, i) => (i < (multiSuite ? 3 : 2) ? '---' : '---:')).join(' | ')} |`);
  for (const r of rows) {
    const cells = [...(multiSuite ? [r.suite] : []), r.case, r.shape];
    if (hasOurs) cells.push(cell(r.ours, r.unit));
    for (const p of peers) {
      const x = r.peers.get(p);
      let c = cell(x, r.unit);
      if (x && x.ratio !== null && r.ours) c += `, ours ${fmtRatio(x.ratio)}x`;
      cells.push(c);
    }
    lines.push(`| ${cells.map(esc).join(' | ')} |`);
  }
  if (hasOurs && peers.length) lines.push('', `"ours Nx" is peer time / ${OURS} time: above 1 ${OURS} is faster.`);
  return lines.join('\n') + '\n';
}

function argValue(argv: string[], name: string): string | null {
  const i = argv.indexOf(name);
  if (i < 0) return null;
  const v = argv[i + 1];
  if (!v || v.startsWith('--')) throw new Error(`bench/report: ${name} needs a value`);
  return v;
}

function writeOut(file: string, data: string | Buffer): void {
  const p = resolve(file);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, data);
}

export function main(argv: string[]): void {
  const input = argv.find((a, i) => !a.startsWith('--') && (i === 0 || !argv[i - 1].startsWith('--')));
  if (!input) {
    console.error('usage: npx tsx bench/report.ts results.json [--png chart.png] [--md table.md] [--title TEXT]');
    process.exitCode = 2;
    return;
  }
  const f = loadBench(input);
  const png = argValue(argv, '--png');
  const md = argValue(argv, '--md');
  const title = argValue(argv, '--title') ?? undefined;
  if (png) {
    writeOut(png, renderReportPNG(f, title));
    console.log(`wrote ${png}`);
  }
  if (md) {
    writeOut(md, markdownTable(f));
    console.log(`wrote ${md}`);
  }
  if (!png && !md) process.stdout.write(markdownTable(f));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 1;
  }
}
