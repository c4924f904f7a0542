// data/synthetic.ts: the generated dataset's layout and counts, determinism, and exactness of the
// defect masks (a defective sample and its defect-free twin differ inside the mask, not outside).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFECT_TYPES, renderSample, writeSyntheticDataset, SYNTHETIC_CLASSES } from '../../data/synthetic.ts';
import { listMVTec } from '../../data/datasets.ts';
import { readImage } from '../../data/image.ts';
import { Rng } from '../../data/rng.ts';

const SYN = suite('synthetic: rendering and dataset');

for (const cls of SYNTHETIC_CLASSES) {
  SYN(`${cls}: every defect changes the pixels inside its mask and (almost) nothing outside`, () => {
    for (const [k, d] of DEFECT_TYPES.entries()) {
      const clean = renderSample(cls, 96, new Rng(40 + k));
      const bad = renderSample(cls, 96, new Rng(40 + k), d);
      const n = 96 * 96;
      let inMask = 0,
        changedIn = 0,
        strongOut = 0,
        diffIn = 0;
      for (let i = 0; i < n; i++) {
        let diff = 0;
        for (let c = 0; c < 3; c++) diff = Math.max(diff, Math.abs(bad.image.data[i * 3 + c]! - clean.image.data[i * 3 + c]!));
        if (bad.mask.data[i]) {
          inMask++;
          diffIn += diff;
          if (diff >= 4) changedIn++;
        } else if (diff >= 8) strongOut++;
      }
      assert.ok(inMask > 0, `${d}: empty mask`);
      assert.ok(changedIn / inMask > 0.9, `${d}: only ${changedIn}/${inMask} mask pixels changed`);
      // partial-coverage rims (< 0.5) may change a little outside the mask, never much of it
      assert.ok(strongOut <= 0.6 * inMask + 4, `${d}: ${strongOut} pixels outside the mask changed strongly (mask ${inMask})`);
      // subtle, not blatant: the mean change inside the mask stays well below full contrast (a missing
      // piece of the button shows the cloth, which is blatant by nature)
      if (d !== 'missing' || cls === 'woodgrain') assert.ok(diffIn / inMask < 80, `${d}: mean change ${diffIn / inMask}`);
      assert.ok(clean.mask.data.every((v) => v === 0));
    }
  });
}

SYN('normal samples vary (seeded), and the same seed gives the same image', () => {
  for (const cls of SYNTHETIC_CLASSES) {
    const a = renderSample(cls, 64, new Rng(1)),
      b = renderSample(cls, 64, new Rng(1)),
      c = renderSample(cls, 64, new Rng(2));
    assert.equal(a.image.data, b.image.data);
    let d = 0;
    for (let i = 0; i < a.image.data.length; i++) d += Math.abs(a.image.data[i]! - c.image.data[i]!);
    assert.ok(d / a.image.data.length > 3, `${cls}: two normal samples are nearly identical`);
  }
});

SYN('writeSyntheticDataset: MVTec layout, counts, fg masks, deterministic files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glass-syn-'));
  try {
    const sum = writeSyntheticDataset(dir, { size: 48, train: 3, testGood: 2, testDefective: 7, seed: 9 });
    assert.equal(sum.classes, ['woodgrain', 'button']);
    for (const cls of sum.classes) {
      assert.is(listMVTec(dir, cls, 'train').entries.length, 3);
      const te = listMVTec(dir, cls, 'test');
      assert.equal(te.warnings, []);
      assert.is(te.entries.filter((e) => e.label === 0).length, 2);
      assert.is(te.entries.filter((e) => e.label === 1).length, 7);
      assert.equal(new Set(te.entries.map((e) => e.defect)), new Set(['good', ...DEFECT_TYPES]));
      for (const e of te.entries.filter((x) => x.maskPath))
        assert.ok(
          readImage(e.maskPath!, 'gray').data.some((v) => v === 255),
          e.maskPath!,
        );
      assert.is(readImage(join(dir, 'fg_mask', cls, '000.png'), 'gray').width, 48);
    }
    const first = readFileSync(join(dir, 'button', 'test', 'crack', '000.png'));
    writeSyntheticDataset(dir, { size: 48, train: 3, testGood: 2, testDefective: 7, seed: 9 });
    assert.equal(readFileSync(join(dir, 'button', 'test', 'crack', '000.png')), first);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

SYN.run();
