// Chart rasteriser: rectangles, lines, glyphs of the built-in font, PNG encoding, bar layout.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PNG } from 'pngjs';
import { ADVANCE, GLYPH_H, GLYPH_W, glyphPixel, hasGlyph } from '../../bench/chart/font.ts';
import { BLACK, Raster, WHITE, hexColor, textWidth } from '../../bench/chart/raster.ts';
import { formatTick, linearTicks, logTicks, renderBarChart, wrapLabel } from '../../bench/chart/bars.ts';

const RED = hexColor('#ff0000');
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

const raster = suite('bench/chart raster');

raster('hexColor parses #rrggbb and #rrggbbaa, rejects the rest', () => {
  assert.equal(hexColor('#102030'), [16, 32, 48, 255]);
  assert.equal(hexColor('#10203080'), [16, 32, 48, 128]);
  assert.throws(() => hexColor('red'), /not #rrggbb/);
});

raster('fillRect covers exactly [x, x+w) x [y, y+h)', () => {
  const r = new Raster(10, 8);
  r.fillRect(2, 3, 4, 2, RED);
  let count = 0;
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 10; x++) {
      const inside = x >= 2 && x < 6 && y >= 3 && y < 5;
      assert.ok(same(r.get(x, y), inside ? RED : WHITE), `pixel ${x},${y}`);
      if (inside) count++;
    }
  assert.is(count, 8);
});

raster('fillRect clips at the canvas edges', () => {
  const r = new Raster(4, 4);
  r.fillRect(-5, -5, 7, 100, RED);
  assert.ok(same(r.get(0, 3), RED));
  assert.ok(same(r.get(1, 0), RED));
  assert.ok(same(r.get(2, 0), WHITE));
});

raster('half-transparent colour blends over the background', () => {
  const r = new Raster(1, 1, BLACK);
  r.set(0, 0, [255, 255, 255, 128]);
  assert.equal(r.get(0, 0), [128, 128, 128, 255]);
});

raster('line draws both end points; horizontal and diagonal', () => {
  const r = new Raster(6, 6);
  r.line(1, 1, 4, 1, RED);
  for (let x = 1; x <= 4; x++) assert.ok(same(r.get(x, 1), RED));
  assert.ok(same(r.get(0, 1), WHITE) && same(r.get(5, 1), WHITE));
  r.line(0, 5, 3, 2, BLACK);
  for (let i = 0; i <= 3; i++) assert.ok(same(r.get(i, 5 - i), BLACK));
});

raster('strokeRect outlines the fillRect area and leaves the inside', () => {
  const r = new Raster(6, 6);
  r.strokeRect(1, 1, 4, 3, RED);
  assert.ok(same(r.get(1, 1), RED) && same(r.get(4, 3), RED) && same(r.get(4, 1), RED));
  assert.ok(same(r.get(2, 2), WHITE));
  assert.ok(same(r.get(5, 3), WHITE));
});

const font = suite('bench/chart font');

font('every printable ASCII character has a glyph', () => {
  for (let c = 32; c < 127; c++) assert.ok(hasGlyph(String.fromCharCode(c)), `missing ${String.fromCharCode(c)}`);
  assert.not.ok(hasGlyph('\u00e9'));
});

font('glyph "L" is a left bar and a bottom bar', () => {
  for (let y = 0; y < 7; y++) assert.ok(glyphPixel('L', 0, y));
  for (let x = 0; x < GLYPH_W; x++) assert.ok(glyphPixel('L', x, 6));
  assert.not.ok(glyphPixel('L', 1, 0));
  assert.not.ok(glyphPixel('L', 0, 7));
});

font('text draws glyph pixels at the requested scale and advance', () => {
  const r = new Raster(40, 20);
  const w = r.text(1, 2, 'LT', BLACK, 2);
  assert.is(w, textWidth('LT', 2));
  assert.is(w, (2 * ADVANCE - 1) * 2);
  // 'L' at (1,2), scale 2: its bottom-right glyph pixel (4,6) covers x 9..10, y 14..15.
  assert.ok(same(r.get(9, 14), BLACK) && same(r.get(10, 15), BLACK));
  assert.ok(same(r.get(3, 2), WHITE)); // glyph pixel (1,0) of 'L' is clear
  // 'T' starts one advance later: its top bar spans glyph columns 0..4 at row 0.
  const tx = 1 + ADVANCE * 2;
  for (let gx = 0; gx < GLYPH_W; gx++) assert.ok(same(r.get(tx + gx * 2, 2), BLACK));
  // The descender row stays empty for these letters.
  assert.ok(same(r.get(1, 2 + (GLYPH_H - 1) * 2), WHITE));
});

font('unknown characters draw as a box rather than nothing', () => {
  const r = new Raster(8, 10);
  r.text(0, 0, '\u00e9', BLACK);
  assert.ok(same(r.get(0, 0), BLACK) && same(r.get(4, 6), BLACK) && same(r.get(2, 3), WHITE));
});

raster('toPNG encodes the pixels losslessly', () => {
  const r = new Raster(5, 3);
  r.fillRect(1, 1, 2, 1, RED);
  const png = PNG.sync.read(r.toPNG());
  assert.is(png.width, 5);
  assert.is(png.height, 3);
  assert.equal([...png.data.subarray((1 * 5 + 1) * 4, (1 * 5 + 1) * 4 + 4)], [255, 0, 0, 255]);
  assert.equal([...png.data.subarray(0, 4)], [255, 255, 255, 255]);
});

const bars = suite('bench/chart bars');

bars('tick helpers', () => {
  assert.equal(linearTicks(9), [0, 2, 4, 6, 8, 10]);
  assert.equal(linearTicks(0.37), [0, 0.1, 0.2, 0.3, 0.4]);
  assert.equal(logTicks(0.9, 211), [0.1, 1, 10, 100, 1000]);
  assert.equal(logTicks(3, 7), [1, 10]);
  assert.is(formatTick(1000), '1000');
  assert.is(formatTick(0.1), '0.1');
  assert.is(formatTick(2.5), '2.5');
});

bars('wrapLabel splits long names at underscores, balanced', () => {
  assert.is(wrapLabel('matmul', 200, 2), 'matmul');
  assert.is(wrapLabel('conv2d_bwd_input', 120, 2), 'conv2d_\nbwd_input');
});

bars('renderBarChart draws bars in series colours, taller for larger values', () => {
  const blue = hexColor('#0000ff'),
    green = hexColor('#00ff00');
  const img = renderBarChart({
    title: 'T',
    series: [
      { name: 'a', color: blue },
      { name: 'b', color: green },
    ],
    panels: [{ title: 'P', yLabel: 'u', scale: 'linear', groups: [{ label: 'g', values: [1, 2] }] }],
    minWidth: 300,
    plotHeight: 100,
  });
  const heights = [blue, green].map((c) => {
    let n = 0;
    for (let x = 0; x < img.width; x++) for (let y = 0; y < img.height; y++) if (same(img.get(x, y), c)) n++;
    return n;
  });
  // Legend swatches are 16x16 = 256 pixels each; the bars are the rest, green twice blue.
  const barA = heights[0] - 256,
    barB = heights[1] - 256;
  assert.ok(barA > 0 && Math.abs(barB / barA - 2) < 0.1, `bar areas ${barA}, ${barB}`);
  assert.throws(
    () => renderBarChart({ title: 'T', series: [{ name: 'a' }], panels: [{ title: 'P', yLabel: 'u', groups: [{ label: 'g', values: [1, 2] }] }] }),
    /2 values for 1 series/,
  );
});

raster.run();
font.run();
bars.run();
