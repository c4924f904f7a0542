// Minimal RGBA rasteriser for benchmark charts: clipped filled rectangles, lines, bitmap text
// (bench/chart/font.ts) and compositing, encoded to PNG with pngjs. Integer pixel coordinates;
// colours with alpha < 255 are blended over what is there.
import { PNG } from 'pngjs';
import { ADVANCE, GLYPH_H, GLYPH_W, LINE_H, glyph } from './font.ts';

export type RGBA = readonly [number, number, number, number];

/** '#rrggbb' or '#rrggbbaa' to RGBA. */
export function hexColor(hex: string): RGBA {
  const m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(hex);
  if (!m) throw new Error(`bench/chart/raster.hexColor: ${JSON.stringify(hex)} is not #rrggbb or #rrggbbaa`);
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255, m[2] ? parseInt(m[2], 16) : 255];
}

export const WHITE: RGBA = [255, 255, 255, 255];
export const BLACK: RGBA = [0, 0, 0, 255];

/** Pixel width of `s` at `scale` (widest line when it holds newlines). */
export function textWidth(s: string, scale = 1): number {
  const widest = Math.max(0, ...s.split('\n').map((l) => l.length));
  return widest === 0 ? 0 : (widest * ADVANCE - (ADVANCE - GLYPH_W)) * scale;
}

/** Pixel height of `s` at `scale`: full lines except the last, which counts only its glyph rows. */
export function textHeight(s: string, scale = 1): number {
  const lines = s.split('\n').length;
  return ((lines - 1) * LINE_H + GLYPH_H) * scale;
}

export class Raster {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;

  constructor(width: number, height: number, background: RGBA = WHITE) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new Error(`bench/chart/raster: bad size ${width}x${height}`);
    }
    this.width = width;
    this.height = height;
    this.data = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) this.data.set(background, i * 4);
  }

  get(x: number, y: number): RGBA {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) throw new Error(`bench/chart/raster.get: (${x},${y}) outside ${this.width}x${this.height}`);
    const i = (y * this.width + x) * 4;
    return [this.data[i], this.data[i + 1], this.data[i + 2], this.data[i + 3]];
  }

  /** Sets one pixel (ignored outside the canvas), blending when alpha < 255. */
  set(x: number, y: number, c: RGBA): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    const a = c[3];
    if (a >= 255) {
      this.data[i] = c[0];
      this.data[i + 1] = c[1];
      this.data[i + 2] = c[2];
      this.data[i + 3] = 255;
    } else if (a > 0) {
      const t = a / 255;
      for (let k = 0; k < 3; k++) this.data[i + k] = Math.round(c[k] * t + this.data[i + k] * (1 - t));
      this.data[i + 3] = Math.max(this.data[i + 3], a);
    }
  }

  /** Fills [x, x+w) x [y, y+h), clipped to the canvas; coordinates are rounded. */
  fillRect(x: number, y: number, w: number, h: number, c: RGBA): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.set(xx, yy, c);
  }

  /** One-pixel outline of the same rectangle fillRect would fill. */
  strokeRect(x: number, y: number, w: number, h: number, c: RGBA): void {
    const x0 = Math.round(x),
      y0 = Math.round(y),
      x1 = Math.round(x + w) - 1,
      y1 = Math.round(y + h) - 1;
    if (x1 < x0 || y1 < y0) return;
    this.line(x0, y0, x1, y0, c);
    this.line(x0, y1, x1, y1, c);
    this.line(x0, y0, x0, y1, c);
    this.line(x1, y0, x1, y1, c);
  }

  /** Bresenham line including both end points; `dash` = [on, off] lengths in pixels. */
  line(x0: number, y0: number, x1: number, y1: number, c: RGBA, dash?: [number, number]): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0),
      dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1,
      sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    let step = 0;
    for (;;) {
      if (!dash || step % (dash[0] + dash[1]) < dash[0]) this.set(x0, y0, c);
      step++;
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /** Draws `s` with its top-left corner at (x, y); '\n' starts a new line. Returns the width drawn. */
  text(x: number, y: number, s: string, c: RGBA, scale = 1): number {
    x = Math.round(x);
    y = Math.round(y);
    const lines = s.split('\n');
    lines.forEach((line, li) => {
      let cx = x;
      const cy = y + li * LINE_H * scale;
      for (const ch of line) {
        const rows = glyph(ch);
        for (let gy = 0; gy < GLYPH_H; gy++) {
          const bits = rows[gy];
          if (!bits) continue;
          for (let gx = 0; gx < GLYPH_W; gx++) {
            if ((bits >> (GLYPH_W - 1 - gx)) & 1) this.fillRect(cx + gx * scale, cy + gy * scale, scale, scale, c);
          }
        }
        cx += ADVANCE * scale;
      }
    });
    return textWidth(s, scale);
  }

  /** Text anchored by its horizontal centre (each line centred) at top y. */
  textCentered(cx: number, y: number, s: string, c: RGBA, scale = 1): void {
    s.split('\n').forEach((line, i) => this.text(cx - textWidth(line, scale) / 2, y + i * LINE_H * scale, line, c, scale));
  }

  /** Text whose right edge is at x. */
  textRight(x: number, y: number, s: string, c: RGBA, scale = 1): void {
    this.text(x - textWidth(s, scale), y, s, c, scale);
  }

  /** Copies `src` with its top-left at (x, y), clipped. */
  blit(src: Raster, x: number, y: number): void {
    for (let sy = 0; sy < src.height; sy++) {
      const ty = sy + y;
      if (ty < 0 || ty >= this.height) continue;
      for (let sx = 0; sx < src.width; sx++) {
        const tx = sx + x;
        if (tx < 0 || tx >= this.width) continue;
        const si = (sy * src.width + sx) * 4,
          ti = (ty * this.width + tx) * 4;
        this.data.set(src.data.subarray(si, si + 4), ti);
      }
    }
  }

  toPNG(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength).copy(png.data);
    return PNG.sync.write(png);
  }
}
