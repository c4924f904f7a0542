// Learning curves: how GLASS's image/pixel AUROC and PRO grow with training iterations and
// seconds on a dataset, next to the nearest-neighbour baseline on the same features (its figures
// and its time as horizontal lines). Trains through the CLI (`glass train ... --eval_pro 1`),
// reads the evaluations from log.jsonl, and writes quality.json and quality.png into --out.
//   npx tsx bench/quality.ts --data ROOT -d CLASS [--out DIR] [--knn FILE.json] [--label NAME] -- [train flags]
//   npx tsx bench/quality.ts --chart OUT.png RUN/quality.json [RUN2/quality.json ...]
// The kNN baseline (bench/knn-baseline.ts) runs first unless --knn names its JSON (reused when
// it exists, written when it does not); it uses the train flags' (or preset's) --imagesize,
// --resize and --geometry.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PRESETS } from '../glass/options.ts';
import { renderLineChart, type LinePanel, type LineSeries, type RefLine } from './chart/lines.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** One evaluation of a training run, as log.jsonl records it. */
export interface CurvePoint {
  epoch: number;
  iterations: number;
  trainSeconds: number;
  imageAuroc: number | null;
  pixelAuroc: number | null;
  pixelPro: number | null;
}

export interface QualityRun {
  label: string;
  data: string;
  class: string;
  trainArgs: string[];
  points: CurvePoint[];
  knn: { image_auroc: number | null; pixel_auroc: number | null; pixel_pro: number | null; seconds: number } | null;
}

/** The evaluations of the last run in a log.jsonl (a run header starts each run). */
export function curveFromLog(text: string): CurvePoint[] {
  const lines = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const lastRun = Math.max(...lines.map((l) => Number(l.run ?? 0)));
  return lines
    .filter((l) => Number(l.run) === lastRun && l.eval && typeof l.iterations === 'number')
    .map((l) => {
      const e = l.eval as Record<string, number | null>;
      return {
        epoch: Number(l.epoch),
        iterations: Number(l.iterations),
        trainSeconds: Number(l.train_seconds),
        imageAuroc: e.image_auroc ?? null,
        pixelAuroc: e.pixel_auroc ?? null,
        pixelPro: e.pixel_pro ?? null,
      };
    });
}

const METRICS = [
  ['imageAuroc', 'image AUROC', 'image_auroc'],
  ['pixelAuroc', 'pixel AUROC', 'pixel_auroc'],
  ['pixelPro', 'PRO', 'pixel_pro'],
] as const;

/** Panels: each metric against iterations and against training seconds; kNN as reference lines. */
export function qualityPanels(runs: QualityRun[]): LinePanel[] {
  const panels: LinePanel[] = [];
  for (const [key, title, knnKey] of METRICS) {
    for (const [x, xLabel] of [
      ['iterations', 'training iterations'],
      ['trainSeconds', 'training seconds (evaluation excluded)'],
    ] as const) {
      const series: LineSeries[] = runs.map((r) => ({
        name: r.label,
        points: r.points.filter((p) => p[key] !== null).map((p) => [p[x], p[key] as number] as const),
      }));
      const refs: RefLine[] = [];
      for (const r of runs) {
        const v = r.knn?.[knnKey];
        if (v !== null && v !== undefined && !refs.some((l) => l.y === v))
          refs.push({ label: `kNN ${v.toFixed(3)}${x === 'trainSeconds' ? ` (${Math.round(r.knn!.seconds)} s)` : ''}`, y: v });
      }
      panels.push({ title, xLabel, yLabel: title, series, refs });
    }
  }
  return panels;
}

/** A markdown table of each run's best and last evaluation beside the kNN baseline. */
export function qualityTable(runs: QualityRun[]): string {
  const f = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(3));
  const rows = ['| run | iterations | train s | image AUROC | pixel AUROC | PRO |', '|---|---|---|---|---|---|'];
  for (const r of runs) {
    const knnRow = r.knn
      ? `| kNN baseline (${r.class}) | - | ${Math.round(r.knn.seconds)} | ${f(r.knn.image_auroc)} | ${f(r.knn.pixel_auroc)} | ${f(r.knn.pixel_pro)} |`
      : null;
    // runs that share one baseline (--knn FILE) list it once
    if (knnRow && !rows.includes(knnRow)) rows.push(knnRow);
    const score = (p: CurvePoint) => (p.imageAuroc ?? 0) + (p.pixelAuroc ?? 0);
    const best = r.points.reduce<CurvePoint | null>((b, p) => (!b || score(p) > score(b) ? p : b), null);
    const last = r.points[r.points.length - 1];
    for (const [what, p] of [
      ['best', best],
      ['last', last],
    ] as const)
      if (p)
        rows.push(
          `| ${r.label}, ${what} (epoch ${p.epoch}) | ${p.iterations} | ${Math.round(p.trainSeconds)} | ${f(p.imageAuroc)} | ${f(p.pixelAuroc)} | ${f(p.pixelPro)} |`,
        );
  }
  return rows.join('\n');
}

/** The input the baseline must see to match training: the train flags' sizes and geometry, else
 * their preset's, else the CLI defaults (288 px, crop). */
export function baselineInput(train: readonly string[]): { imagesize: string; resize: string; geometry: string } {
  const preset = PRESETS[flagValue(train, '--preset') ?? '']?.values ?? {};
  const imagesize = flagValue(train, '--imagesize') ?? String(preset.imagesize ?? 288);
  const resize = flagValue(train, '--resize') ?? String(preset.resize ?? imagesize);
  const geometry = flagValue(train, '--geometry') ?? String(preset.geometry ?? 'crop');
  return { imagesize, resize, geometry };
}

function flagValue(args: readonly string[], name: string): string | undefined {
  const i = args.lastIndexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function writeChart(path: string, runs: QualityRun[]): void {
  const title = `GLASS learning curves: ${[...new Set(runs.map((r) => r.class))].join(', ')}`;
  const png = renderLineChart({
    title,
    subtitle: 'evaluations during training vs the nearest-neighbour baseline on the same features',
    panels: qualityPanels(runs),
    columns: 2,
  });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, png.toPNG());
}

const USAGE =
  'usage: npx tsx bench/quality.ts --data ROOT -d CLASS [--out DIR] [--knn FILE.json] [--label NAME] [--dataset mvtec] -- [glass train flags]\n' +
  '       npx tsx bench/quality.ts --chart OUT.png RUN/quality.json [...]\n' +
  '  trains GLASS with an evaluation (image/pixel AUROC, PRO) after every --eval_epochs, and draws them against\n' +
  '  iterations and training seconds beside the kNN baseline; writes DIR/quality.json, DIR/quality.png, DIR/quality.md';

async function main(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const train = dash >= 0 ? argv.slice(dash + 1) : [];
  let v: { data?: string; d?: string; out?: string; knn?: string; label?: string; dataset?: string; chart?: string; help?: boolean };
  let positionals: string[];
  try {
    const p = parseArgs({
      args: own,
      allowPositionals: true,
      options: {
        data: { type: 'string' },
        d: { type: 'string', short: 'd' },
        out: { type: 'string' },
        knn: { type: 'string' },
        label: { type: 'string' },
        dataset: { type: 'string' },
        chart: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    v = p.values;
    positionals = p.positionals;
  } catch (err) {
    console.error(`quality: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  if (v.chart) {
    if (positionals.length === 0) {
      console.error(`quality: --chart needs at least one quality.json\n${USAGE}`);
      return 2;
    }
    const runs = positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as QualityRun);
    writeChart(v.chart, runs);
    const md = qualityTable(runs);
    console.log(md);
    writeFileSync(v.chart.replace(/\.png$/, '') + '.md', md + '\n');
    console.log(`wrote ${v.chart}`);
    return 0;
  }
  if (!v.data || !v.d) {
    console.error(`quality: --data and -d are required\n${USAGE}`);
    return 2;
  }
  const out = v.out ?? join('results', 'quality', v.d);
  mkdirSync(out, { recursive: true });
  const { imagesize, resize, geometry } = baselineInput(train);
  let knn: QualityRun['knn'] = null;
  const knnPath = v.knn ?? join(out, 'knn.json');
  if (!existsSync(knnPath)) {
    console.log(`kNN baseline (${imagesize} px, ${geometry}) -> ${knnPath}`);
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'bench/knn-baseline.ts'),
        '--data',
        v.data,
        '-d',
        v.d,
        '--imagesize',
        imagesize,
        '--resize',
        resize,
        '--geometry',
        geometry,
        '--json',
        knnPath,
      ],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) {
      console.error(`quality: the kNN baseline failed (exit ${r.status})`);
      return 1;
    }
  }
  const k = JSON.parse(readFileSync(knnPath, 'utf8'));
  knn = { image_auroc: k.image_auroc, pixel_auroc: k.pixel_auroc, pixel_pro: k.pixel_pro, seconds: k.seconds.bank + k.seconds.test };
  const trainOut = join(out, 'train');
  const args = ['--import', 'tsx', join(ROOT, 'glass/cli.ts'), 'train', '--data', v.data, '-d', v.d, '--out', trainOut, '--eval_pro', '1', ...train];
  if (v.dataset) args.push('--dataset', v.dataset);
  console.log(`glass ${args.slice(3).join(' ')}`);
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`quality: training failed (exit ${r.status})`);
    return 1;
  }
  const logPath = join(trainOut, `${v.dataset ?? 'mvtec'}_${v.d}`, 'log.jsonl');
  const run: QualityRun = {
    label: v.label ?? (train.join(' ') || 'defaults'),
    data: v.data,
    class: v.d,
    trainArgs: train,
    points: curveFromLog(readFileSync(logPath, 'utf8')),
    knn,
  };
  writeFileSync(join(out, 'quality.json'), JSON.stringify(run, null, 2) + '\n');
  writeChart(join(out, 'quality.png'), [run]);
  const md = qualityTable([run]);
  writeFileSync(join(out, 'quality.md'), md + '\n');
  console.log(md);
  console.log(`wrote ${join(out, 'quality.json')}, quality.png, quality.md`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main(process.argv.slice(2));
