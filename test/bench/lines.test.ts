// bench/chart/lines.ts: learning-curve panels. The series are drawn in their colours where the
// points are, a reference line is drawn dashed at its value, and bad input is refused.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { renderLineChart, type LineChart } from '../../bench/chart/lines.ts';
import { PNG } from 'pngjs';

const t = suite('bench line chart');

const chart: LineChart = {
  title: 'curves',
  subtitle: 'a test',
  panels: [
    {
      title: 'image AUROC',
      xLabel: 'iterations',
      yLabel: 'AUROC',
      yRange: [0, 1],
      series: [
        {
          name: 'glass',
          color: '#ff0000',
          points: [
            [0, 0.5],
            [10, 0.9],
          ],
        },
      ],
      refs: [{ label: 'knn', y: 0.75, color: '#0000ff' }],
    },
    { title: 'pixel AUROC', xLabel: 'seconds', yLabel: 'AUROC', series: [{ name: 'glass', color: '#ff0000', points: [[5, 0.6]] }] },
  ],
  panelWidth: 400,
  panelHeight: 240,
};

t('two panels side by side, the series colour at its points, the reference line dashed at its value', () => {
  const r = renderLineChart(chart);
  assert.is(r.width, 800);
  const red = (x: number, y: number) => {
    const [a, b, c] = r.get(x, y);
    return a > 200 && b < 60 && c < 60;
  };
  const blue = (x: number, y: number) => {
    const [a, b, c] = r.get(x, y);
    return c > 200 && a < 60 && b < 60;
  };
  let reds = 0,
    blueRow = -1;
  for (let y = 0; y < r.height; y++) for (let x = 0; x < 400; x++) if (red(x, y)) reds++;
  assert.ok(reds > 40, `the first panel's line and markers: ${reds} red pixels`);
  // the dashed blue line: one row with blue runs and gaps
  for (let y = 0; y < r.height && blueRow < 0; y++) {
    let n = 0;
    for (let x = 60; x < 380; x++) if (blue(x, y)) n++;
    if (n > 100) blueRow = y;
  }
  assert.ok(blueRow > 0, 'a long blue row');
  let gaps = 0;
  for (let x = 60; x < 300; x++) if (!blue(x, blueRow) && blue(x - 1, blueRow)) gaps++;
  assert.ok(gaps > 5, `dashed: ${gaps} gaps`);
  // y = 0.75 of [0, 1] lies three quarters up the plot area (top 30, bottom 240 - 34)
  const expect = 206 - 0.75 * (206 - 30);
  assert.ok(Math.abs(blueRow - (r.height - 240 + expect)) <= 1, `row ${blueRow}`);
  const png = PNG.sync.read(r.toPNG());
  assert.is(png.width, 800);
});

t('a legend wider than the chart wraps onto a second row, every name drawn inside the width', () => {
  const many = ['fast', 'cpu, seed 0', 'cpu, seed 1', 'cpu, seed 2', 'cpu, 112 ep', 'cpu + ema'];
  const wide: LineChart = {
    ...chart,
    panels: [{ ...chart.panels[0], series: many.map((name, i) => ({ name, points: [[i, 0.5]] as [number, number][] })) }, chart.panels[1]],
  };
  const one = renderLineChart(chart),
    two = renderLineChart(wide);
  assert.is(two.width, one.width);
  assert.ok(two.height > one.height, `taller by a legend row: ${two.height} vs ${one.height}`);
  // nothing drawn in the last 6 columns of the legend rows (the old single row ran off the edge)
  const top = 14 + 10 * 3 + 8 + 10 + 8;
  for (let y = top; y < top + 2 * 28; y++)
    for (let x = two.width - 6; x < two.width; x++) {
      const [a, b, c] = two.get(x, y);
      assert.ok(a > 240 && b > 240 && c > 240, `ink at (${x}, ${y})`);
    }
});

t('no panels is an error', () => {
  assert.throws(() => renderLineChart({ title: 'x', panels: [] }), /no panels/);
});

t.run();
