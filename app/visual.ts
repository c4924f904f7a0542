/// <reference lib="dom" />
// What the page draws: anomaly maps as JET heatmaps over the image, binary masks, and the
// training chart. The colouring is the CLI's: jet(), mapToOriginal() and overlayScale() come from
// glass/heatmap.ts, which glass/visualize.ts (the CLI's PNG writer) uses too.
import { jet, mapToOriginal, overlayScale, type Image } from './lib.ts';

export { jet, mapToOriginal, overlayScale };

/** RGBA pixels of the image with the map at half opacity (pixels outside the crop, NaN, darkened). */
export function overlayRGBA(img: Image, map: Float32Array, scale: { base: number; span: number }): Uint8ClampedArray {
  const n = img.width * img.height;
  const out = new Uint8ClampedArray(n * 4);
  for (let p = 0; p < n; p++) {
    const v = map[p];
    const seen = !Number.isNaN(v);
    const heat = seen ? jet((v - scale.base) / scale.span) : [0, 0, 0];
    for (let c = 0; c < 3; c++) {
      const px = img.channels === 3 ? img.data[p * 3 + c] : img.data[p];
      out[p * 4 + c] = Math.round(0.5 * px + 0.5 * heat[c]);
    }
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** White where the map is at or above `pixel`, black elsewhere (and outside the crop). */
export function maskRGBA(map: Float32Array, pixel: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(map.length * 4);
  for (let p = 0; p < map.length; p++) {
    const on = map[p] >= pixel ? 255 : 0;
    out[p * 4] = out[p * 4 + 1] = out[p * 4 + 2] = on;
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** Outlines the 0/1 ground-truth mask (w x h) in white on top of RGBA pixels. */
export function outlineMask(rgba: Uint8ClampedArray, mask: Float32Array, w: number, h: number): void {
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (mask[i] < 0.5) continue;
      const edge = x === 0 || y === 0 || x === w - 1 || y === h - 1 || mask[i - 1] < 0.5 || mask[i + 1] < 0.5 || mask[i - w] < 0.5 || mask[i + w] < 0.5;
      if (edge) rgba.set([255, 255, 255, 255], i * 4);
    }
}

/** An Image (HWC, grey or RGB) as RGBA pixels. */
export function imageRGBA(img: Image): Uint8ClampedArray {
  const n = img.width * img.height;
  const out = new Uint8ClampedArray(n * 4);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) out[p * 4 + c] = img.channels === 3 ? img.data[p * 3 + c] : img.data[p];
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** Puts RGBA pixels of size w x h on a canvas (resized to them). */
export function paint(canvas: HTMLCanvasElement, rgba: Uint8ClampedArray, w: number, h: number): void {
  canvas.width = w;
  canvas.height = h;
  canvas.getContext('2d')!.putImageData(new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, w, h), 0, 0);
}

export interface ChartData {
  /** training loss per iteration */
  loss: number[];
  /** per evaluated epoch: the iteration count at its end and the AUROCs (null when not measured) */
  evals: { at: number; image: number | null; pixel: number | null }[];
  /** iterations planned in all (the x axis' extent) */
  total: number;
}

/** The live training chart: loss (left axis, auto-scaled) and AUROC (right axis, 0.5..1). */
export function drawChart(canvas: HTMLCanvasElement, d: ChartData): void {
  const dpr = globalThis.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || 560;
  const cssH = canvas.clientHeight || 220;
  if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
  }
  const g = canvas.getContext('2d')!;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, cssW, cssH);
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, cssW, cssH);
  const L = 46,
    R = 46,
    T = 30,
    B = 26;
  const w = cssW - L - R,
    h = cssH - T - B;
  const total = Math.max(d.total, d.loss.length, 1);
  const x = (i: number) => L + (w * i) / total;
  const finite = d.loss.filter(Number.isFinite);
  const hi = finite.length ? Math.max(...finite) * 1.05 : 1;
  const lo = 0;
  const yl = (v: number) => T + h - (h * (v - lo)) / (hi - lo || 1);
  const ya = (v: number) => T + h - (h * (Math.min(Math.max(v, 0.5), 1) - 0.5)) / 0.5;
  // grid and axes
  g.strokeStyle = '#e6e8ee';
  g.lineWidth = 1;
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#667085';
  for (let k = 0; k <= 4; k++) {
    const yy = T + (h * k) / 4;
    g.beginPath();
    g.moveTo(L, yy);
    g.lineTo(L + w, yy);
    g.stroke();
    g.textAlign = 'right';
    g.fillText((hi - ((hi - lo) * k) / 4).toFixed(2), L - 6, yy + 4);
    g.textAlign = 'left';
    g.fillText((1 - 0.5 * (k / 4)).toFixed(2), L + w + 6, yy + 4);
  }
  g.textAlign = 'center';
  g.fillText('iteration', L + w / 2, cssH - 6);
  g.fillText(String(total), L + w, cssH - 6);
  g.fillText('0', L, cssH - 6);
  // loss
  if (d.loss.length) {
    g.strokeStyle = '#3b5bdb';
    g.lineWidth = 1.6;
    g.beginPath();
    d.loss.forEach((v, i) => (i ? g.lineTo(x(i + 1), yl(Number.isFinite(v) ? v : hi)) : g.moveTo(x(i + 1), yl(Number.isFinite(v) ? v : hi))));
    g.stroke();
  }
  // AUROC
  const series: [keyof (typeof d.evals)[number], string][] = [
    ['image', '#e8590c'],
    ['pixel', '#2f9e44'],
  ];
  for (const [k, colour] of series) {
    const pts = d.evals.filter((e) => e[k] !== null);
    if (!pts.length) continue;
    g.strokeStyle = colour;
    g.fillStyle = colour;
    g.lineWidth = 1.6;
    g.beginPath();
    pts.forEach((e, i) => (i ? g.lineTo(x(e.at), ya(e[k] as number)) : g.moveTo(x(e.at), ya(e[k] as number))));
    g.stroke();
    for (const e of pts) {
      g.beginPath();
      g.arc(x(e.at), ya(e[k] as number), 3, 0, 2 * Math.PI);
      g.fill();
    }
  }
  // legend
  const legend: [string, string][] = [
    ['loss', '#3b5bdb'],
    ['image AUROC', '#e8590c'],
    ['pixel AUROC', '#2f9e44'],
  ];
  let lx = L;
  g.textAlign = 'left';
  for (const [name, colour] of legend) {
    g.fillStyle = colour;
    g.fillRect(lx, 9, 10, 3);
    g.fillStyle = '#344054';
    g.fillText(name, lx + 14, 14);
    lx += g.measureText(name).width + 30;
  }
}
