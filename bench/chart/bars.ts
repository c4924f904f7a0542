// Grouped bar charts for bench results: one group per case, one bar per series (ours, each peer),
// a y axis with ticks and grid (linear, or log when values span decades, as ours vs CPU BLAS
// does), group labels, value labels, a legend and a title. Several panels (e.g. GFLOP/s and GB/s)
// stack into one image under a shared title and legend.
import { LINE_H } from './font.ts';
import { BLACK, Raster, WHITE, hexColor, textHeight, textWidth, type RGBA } from './raster.ts';

export interface BarSeries {
  name: string;
  color?: RGBA | string;
}

export interface BarGroup {
  label: string;
  /** Second, smaller label line (e.g. the shape). */
  sublabel?: string;
  /** One value per series, in series order; null or <= 0 (on log axes) leaves a gap. */
  values: (number | null)[];
}

export interface BarPanel {
  title: string;
  yLabel: string;
  groups: BarGroup[];
  scale?: 'linear' | 'log' | 'auto';
}

export interface BarChart {
  title: string;
  subtitle?: string;
  series: BarSeries[];
  panels: BarPanel[];
  /** Minimum image width in pixels. Default 900. */
  minWidth?: number;
  /** Plot-area height per panel. Default 300. */
  plotHeight?: number;
}

const PALETTE = ['#2f5fb3', '#f28e2b', '#59a14f', '#2e6b2a', '#b07aa1', '#e15759', '#76b7b2', '#9c755f'].map(hexColor);
const GRID: RGBA = [225, 225, 225, 255];
const MINOR: RGBA = [242, 242, 242, 255];
const AXIS: RGBA = [60, 60, 60, 255];
const MUTED: RGBA = [100, 100, 100, 255];

const S = 2; // scale of titles/labels
const BAR_W = 26;
const BAR_GAP = 4;
const GROUP_PAD = 28;
const LEFT = 100;
const RIGHT = 24;

export function seriesColor(s: BarSeries, i: number): RGBA {
  if (typeof s.color === 'string') return hexColor(s.color);
  return s.color ?? PALETTE[i % PALETTE.length];
}

/** Tick label: short, no exponent for the magnitudes benchmarks produce. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toExponential(0);
  if (a >= 1) return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
  return String(Number(v.toPrecision(2)));
}

/** "Nice" linear ticks 0..max at steps of 1, 2 or 5 x 10^k, about `target` of them. */
export function linearTicks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const n = Math.ceil(max / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

/** Decade ticks 10^a..10^b covering [min, max] (positive values). */
export function logTicks(min: number, max: number): number[] {
  let a = Math.floor(Math.log10(min));
  let b = Math.ceil(Math.log10(max));
  if (b === a) b = a + 1;
  const out: number[] = [];
  for (let e = a; e <= b; e++) out.push(Number(Math.pow(10, e).toPrecision(12)));
  return out;
}

function chooseScale(p: BarPanel): 'linear' | 'log' {
  if (p.scale && p.scale !== 'auto') return p.scale;
  const vs = p.groups.flatMap((g) => g.values).filter((v): v is number => v !== null && v > 0);
  if (vs.length < 2) return 'linear';
  return Math.max(...vs) / Math.min(...vs) > 30 ? 'log' : 'linear';
}

function valueLabel(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return Number(v.toPrecision(2)).toString();
}

/** Splits a label into lines no wider than `maxW` pixels, breaking after '_' , '-' or spaces. */
export function wrapLabel(label: string, maxW: number, scale: number): string {
  if (textWidth(label, scale) <= maxW) return label;
  const parts = label.match(/[^_\- ]+[_\- ]?/g) ?? [label];
  // Two lines when possible, split where the longer line is shortest ("conv2d_" / "bwd_input").
  let best: string | null = null;
  let bestW = Infinity;
  for (let i = 1; i < parts.length; i++) {
    const a = parts.slice(0, i).join('').trimEnd(),
      b = parts.slice(i).join('').trimEnd();
    const w = Math.max(textWidth(a, scale), textWidth(b, scale));
    if (w <= maxW && w < bestW) {
      best = `${a}\n${b}`;
      bestW = w;
    }
  }
  if (best) return best;
  const lines: string[] = [];
  let cur = '';
  for (const part of parts) {
    if (cur && textWidth((cur + part).trimEnd(), scale) > maxW) {
      lines.push(cur.trimEnd());
      cur = '';
    }
    cur += part;
  }
  if (cur) lines.push(cur.trimEnd());
  return lines.join('\n');
}

function groupWidth(nSeries: number): number {
  return nSeries * BAR_W + (nSeries - 1) * BAR_GAP + GROUP_PAD;
}

function renderPanel(p: BarPanel, allSeries: BarSeries[], width: number, plotH: number): Raster {
  // Series with no value anywhere in this panel take no slot (e.g. CPU peers on a GPU-only case).
  const active = allSeries.map((_, i) => i).filter((i) => p.groups.some((g) => g.values[i] !== null && g.values[i] !== undefined));
  const slots = active.length ? active : allSeries.map((_, i) => i);
  const nS = slots.length;
  const gw = Math.max(groupWidth(nS), Math.floor((width - LEFT - RIGHT) / Math.max(1, p.groups.length)));
  const labels = p.groups.map((g) => wrapLabel(g.label, gw - 6, S));
  const subs = p.groups.map((g) => (g.sublabel ? wrapLabel(g.sublabel, gw - 4, 1) : ''));
  const labelH = Math.max(...labels.map((l) => textHeight(l, S))) + 6 + Math.max(0, ...subs.map((s) => (s ? textHeight(s, 1) : 0)));
  const top = LINE_H * S + 16;
  const bottom = labelH + 14;
  const height = top + plotH + bottom;
  const r = new Raster(width, height, WHITE);
  const x0 = LEFT,
    x1 = width - RIGHT,
    y0 = top,
    y1 = top + plotH;

  const scale = chooseScale(p);
  const values = p.groups.flatMap((g) => g.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const positive = values.filter((v) => v > 0);
  let ticks: number[];
  let yOf: (v: number) => number;
  if (scale === 'log' && positive.length > 0) {
    ticks = logTicks(Math.min(...positive), Math.max(...positive));
    const la = Math.log10(ticks[0]),
      lb = Math.log10(ticks[ticks.length - 1]);
    yOf = (v) => y1 - ((Math.log10(v) - la) / (lb - la)) * plotH;
    // Minor grid at 2..9 x 10^k.
    for (let t = 0; t < ticks.length - 1; t++) {
      for (let m = 2; m <= 9; m++) {
        const y = Math.round(yOf(ticks[t] * m));
        r.line(x0 + 1, y, x1, y, MINOR);
        r.line(x0 - 3, y, x0, y, AXIS);
      }
    }
  } else {
    ticks = linearTicks(Math.max(0, ...values));
    const top = ticks[ticks.length - 1];
    yOf = (v) => y1 - (v / top) * plotH;
  }
  for (const t of ticks) {
    const y = Math.round(yOf(t));
    if (y !== y1) r.line(x0 + 1, y, x1, y, GRID);
    r.line(x0 - 6, y, x0, y, AXIS);
    r.textRight(x0 - 10, y - 7, formatTick(t), AXIS, S);
  }

  // Panel title and y label (horizontal, above the axis: the font is not rotated).
  r.text(x0, 6, p.title, BLACK, S);
  const yl = `${p.yLabel}${scale === 'log' ? ' (log scale)' : ''}`;
  r.textRight(x1, 6 + (LINE_H * S - LINE_H) / 2, yl, MUTED, 1);

  const baseline = scale === 'log' ? y1 : yOf(0);
  p.groups.forEach((g, gi) => {
    const gx = x0 + gi * gw;
    const barsW = nS * BAR_W + (nS - 1) * BAR_GAP;
    const bx = gx + Math.round((gw - barsW) / 2);
    slots.forEach((si, slot) => {
      const s = allSeries[si];
      const v = g.values[si];
      const x = bx + slot * (BAR_W + BAR_GAP);
      if (v === null || v === undefined || !Number.isFinite(v) || (scale === 'log' && v <= 0)) {
        r.textCentered(x + BAR_W / 2, y1 - 10, '-', MUTED, 1);
        return;
      }
      const y = Math.min(baseline - 1, Math.round(yOf(v)));
      r.fillRect(x, y, BAR_W, baseline - y, seriesColor(s, si));
      const lab = valueLabel(v);
      r.textCentered(x + BAR_W / 2, y - 10, lab, AXIS, 1);
    });
    r.textCentered(gx + gw / 2, y1 + 10, labels[gi], BLACK, S);
    if (subs[gi]) r.textCentered(gx + gw / 2, y1 + 10 + textHeight(labels[gi], S) + 6, subs[gi], MUTED, 1);
    if (gi > 0) r.line(gx, y1 + 2, gx, y1 + 8, AXIS);
  });

  r.line(x0, y0 - 4, x0, y1, AXIS);
  r.line(x0, y1, x1, y1, AXIS);
  return r;
}

/** Legend items of widths `w` packed into rows no wider than `maxWidth` (an item wider than that gets a row of its own). */
export function wrapRows<T extends { w: number }>(items: readonly T[], maxWidth: number): T[][] {
  const rows: T[][] = [[]];
  let rowW = 0;
  for (const it of items) {
    if (rowW + it.w > maxWidth && rows[rows.length - 1].length) {
      rows.push([]);
      rowW = 0;
    }
    rows[rows.length - 1].push(it);
    rowW += it.w;
  }
  return rows;
}

/** Renders the chart: title, subtitle, legend, then each panel stacked vertically. */
export function renderBarChart(c: BarChart): Raster {
  if (c.series.length === 0) throw new Error('bench/chart/bars: no series to draw');
  for (const p of c.panels) {
    for (const g of p.groups) {
      if (g.values.length !== c.series.length) {
        throw new Error(`bench/chart/bars: group "${g.label}" of panel "${p.title}" has ${g.values.length} values for ${c.series.length} series`);
      }
    }
  }
  const plotH = c.plotHeight ?? 300;
  const maxGroups = Math.max(1, ...c.panels.map((p) => p.groups.length));
  const width = Math.max(
    c.minWidth ?? 900,
    LEFT + RIGHT + maxGroups * groupWidth(c.series.length),
    textWidth(c.title, 3) + 40,
    c.subtitle ? textWidth(c.subtitle, 1) + 40 : 0,
  );
  const panels = c.panels.map((p) => renderPanel(p, c.series, width, plotH));

  // Legend: swatch + name, wrapping onto more rows when needed.
  const items = c.series.map((s, i) => ({ name: s.name, color: seriesColor(s, i), w: 16 + 8 + textWidth(s.name, S) + 28 }));
  const rows = wrapRows(items, width - 40);
  const titleH = LINE_H * 3 + 8;
  const subH = c.subtitle ? textHeight(c.subtitle, 1) + 10 : 0;
  const legendH = rows.length * (LINE_H * S + 6) + 8;
  const headH = 14 + titleH + subH + legendH;
  const height = headH + panels.reduce((a, p) => a + p.height + 10, 0);
  const out = new Raster(width, height, WHITE);

  out.textCentered(width / 2, 14, c.title, BLACK, 3);
  if (c.subtitle) out.textCentered(width / 2, 14 + titleH, c.subtitle, MUTED, 1);
  let ly = 14 + titleH + subH;
  for (const row of rows) {
    const total = row.reduce((a, it) => a + it.w, 0) - 28;
    let lx = Math.round((width - total) / 2);
    for (const it of row) {
      out.fillRect(lx, ly, 16, 16, it.color);
      out.text(lx + 24, ly + 1, it.name, BLACK, S);
      lx += it.w;
    }
    ly += LINE_H * S + 6;
  }
  let py = headH;
  for (const p of panels) {
    out.blit(p, 0, py);
    py += p.height + 10;
  }
  return out;
}
