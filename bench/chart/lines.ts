// Line charts for learning curves (bench/quality.ts): panels in a grid, each with series of
// (x, y) points joined by lines and horizontal reference lines (a baseline's score, dashed,
// labelled at the right end). Same raster, font and colours as the bar charts.
import { LINE_H } from './font.ts';
import { BLACK, Raster, WHITE, hexColor, textWidth, type RGBA } from './raster.ts';
import { formatTick, linearTicks, seriesColor, wrapRows } from './bars.ts';

export interface LineSeries {
  name: string;
  color?: RGBA | string;
  points: readonly (readonly [number, number])[];
}

export interface RefLine {
  label: string;
  y: number;
  color?: RGBA | string;
}

export interface LinePanel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  refs?: RefLine[];
  /** y range; default [min(0.5, data), 1] suits AUROC-like scores */
  yRange?: [number, number];
}

export interface LineChart {
  title: string;
  subtitle?: string;
  panels: LinePanel[];
  columns?: number;
  panelWidth?: number;
  panelHeight?: number;
}

const AXIS = hexColor('#444444');
const GRID = hexColor('#e4e4e4');
const MUTED = hexColor('#777777');
const LEFT = 56,
  RIGHT = 16,
  TOP = 30,
  BOTTOM = 34;

function colorOf(c: RGBA | string | undefined, i: number): RGBA {
  return seriesColor({ name: '', color: c }, i);
}

function renderPanel(p: LinePanel, w: number, h: number): Raster {
  const r = new Raster(w, h, WHITE);
  const x0 = LEFT,
    x1 = w - RIGHT,
    y0 = TOP,
    y1 = h - BOTTOM;
  const xs = p.series.flatMap((s) => s.points.map((q) => q[0])).filter(Number.isFinite);
  const ys = [...p.series.flatMap((s) => s.points.map((q) => q[1])), ...(p.refs ?? []).map((l) => l.y)].filter(Number.isFinite);
  const xTicks = linearTicks(Math.max(1e-9, ...xs));
  const xMax = xTicks[xTicks.length - 1];
  const [lo, hi] = p.yRange ?? [Math.min(0.5, Math.floor(Math.min(1, ...ys) * 10) / 10), 1];
  const xOf = (x: number) => x0 + (x / xMax) * (x1 - x0);
  const yOf = (y: number) => y1 - ((y - lo) / (hi - lo)) * (y1 - y0);
  for (let k = 0; k <= 5; k++) {
    const v = lo + ((hi - lo) * k) / 5;
    const y = Math.round(yOf(v));
    if (k > 0) r.line(x0 + 1, y, x1, y, GRID);
    r.textRight(x0 - 6, y - 4, v.toFixed(2), AXIS, 1);
  }
  for (const t of xTicks) {
    const x = Math.round(xOf(t));
    r.line(x, y1, x, y1 + 4, AXIS);
    r.textCentered(x, y1 + 8, formatTick(t), AXIS, 1);
  }
  r.line(x0, y0, x0, y1, AXIS);
  r.line(x0, y1, x1, y1, AXIS);
  r.text(x0, 8, p.title, BLACK, 2);
  r.textRight(x1, 12, p.yLabel, MUTED, 1);
  r.textCentered((x0 + x1) / 2, y1 + 8 + LINE_H + 2, p.xLabel, MUTED, 1);
  (p.refs ?? []).forEach((l, i) => {
    if (!Number.isFinite(l.y)) return;
    const y = Math.round(yOf(Math.min(hi, Math.max(lo, l.y))));
    const c = l.color ? colorOf(l.color, i) : MUTED;
    r.line(x0 + 1, y, x1, y, c, [6, 4]);
    r.textRight(x1 - 2, y - 11, l.label, c, 1);
  });
  p.series.forEach((s, i) => {
    const c = colorOf(s.color, i);
    const pts = s.points.filter((q) => Number.isFinite(q[0]) && Number.isFinite(q[1]));
    for (let k = 1; k < pts.length; k++)
      r.line(Math.round(xOf(pts[k - 1][0])), Math.round(yOf(pts[k - 1][1])), Math.round(xOf(pts[k][0])), Math.round(yOf(pts[k][1])), c);
    for (const q of pts) r.fillRect(Math.round(xOf(q[0])) - 2, Math.round(yOf(q[1])) - 2, 5, 5, c);
  });
  return r;
}

/** Renders the panels in a grid under the title, subtitle and one legend of every series name. */
export function renderLineChart(c: LineChart): Raster {
  if (c.panels.length === 0) throw new Error('bench/chart/lines: no panels to draw');
  const cols = Math.min(c.columns ?? 2, c.panels.length);
  const pw = c.panelWidth ?? 460,
    ph = c.panelHeight ?? 260;
  const names: { name: string; color: RGBA }[] = [];
  for (const p of c.panels)
    p.series.forEach((s, i) => {
      if (!names.some((n) => n.name === s.name)) names.push({ name: s.name, color: colorOf(s.color, i) });
    });
  const width = Math.max(cols * pw, textWidth(c.title, 3) + 40);
  // legend items wrap onto more rows when they do not fit the width
  const legendRows = wrapRows(
    names.map((n) => ({ ...n, w: 24 + textWidth(n.name, 2) + 24 })),
    width - 20,
  );
  const legendRowH = LINE_H * 2 + 8;
  const head = 14 + LINE_H * 3 + 8 + (c.subtitle ? LINE_H + 8 : 0) + legendRows.length * legendRowH + 4;
  const rows = Math.ceil(c.panels.length / cols);
  const out = new Raster(width, head + rows * ph, WHITE);
  out.textCentered(width / 2, 14, c.title, BLACK, 3);
  let y = 14 + LINE_H * 3 + 8;
  if (c.subtitle) {
    out.textCentered(width / 2, y, c.subtitle, MUTED, 1);
    y += LINE_H + 8;
  }
  for (const row of legendRows) {
    let lx = Math.max(10, Math.round((width - row.reduce((a, n) => a + n.w, 0)) / 2));
    for (const n of row) {
      out.fillRect(lx, y, 16, 16, n.color);
      out.text(lx + 24, y + 1, n.name, BLACK, 2);
      lx += n.w;
    }
    y += legendRowH;
  }
  c.panels.forEach((p, i) => out.blit(renderPanel(p, pw, ph), (i % cols) * pw, head + Math.floor(i / cols) * ph));
  return out;
}
