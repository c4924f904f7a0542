// data/datasets.ts: MVTec/MPDD, VisA and plain-folder listings on small generated trees, train and
// test items, and every listing error path (missing folders, mask mismatches, non-image files, no
// ground truth). The MVTec bottle copy in ../shared is used when present.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, renameSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { AnomalyDataset, datasetClasses, listDataset, listFolder, listMVTec, listVisA, type TrainItem, type TestItem } from '../../data/datasets.ts';
import { readImage } from '../../data/image.ts';
import { Rng } from '../../data/rng.ts';
import { sharedPath } from '../helpers/shared.ts';
import { makeTmpData, type TmpData } from './tmpdata.ts';
import { throwsWith } from '../helpers/throws.ts';

let tmp: TmpData;
const quiet = () => {};

const MV = suite('datasets: MVTec layout');
MV.before(() => {
  tmp = makeTmpData();
});
MV.after(() => tmp.cleanup());

MV('train and test listings: labels, order, masks paired by name', () => {
  const tr = listMVTec(tmp.root, 'button', 'train');
  assert.is(tr.entries.length, 6);
  assert.ok(tr.entries.every((e) => e.label === 0 && e.defect === 'good' && e.maskPath === null));
  assert.equal(
    tr.entries.map((e) => basename(e.path)),
    ['000.png', '001.png', '002.png', '003.png', '004.png', '005.png'],
  );
  const te = listMVTec(tmp.root, 'button', 'test');
  assert.equal(
    te.entries.map((e) => e.defect),
    ['crack', 'good', 'good', 'missing', 'scratch', 'spot', 'stain'],
  );
  assert.equal(
    te.entries.map((e) => e.label),
    [1, 0, 0, 1, 1, 1, 1],
  );
  for (const e of te.entries) {
    if (e.label) assert.ok(e.maskPath!.endsWith(join('ground_truth', e.defect, '000_mask.png')), e.maskPath!);
    else assert.is(e.maskPath, null);
  }
  assert.ok(te.hasPixelMasks);
  assert.equal(te.warnings, []);
});

MV('test items: normalised image, label, mask equal to the ground truth (binary)', () => {
  const ds = AnomalyDataset.open({ kind: 'mvtec', root: tmp.root, className: 'button', split: 'test', resize: 64, imagesize: 64, warn: quiet });
  assert.is(ds.length, 7);
  for (let i = 0; i < ds.length; i++) {
    const it = ds.item(i, 0, 0) as TestItem;
    assert.is(it.image.length, 3 * 64 * 64);
    const e = ds.entries[i]!;
    assert.is(it.label, e.label);
    if (!e.maskPath) {
      assert.ok(it.mask.every((v) => v === 0));
      continue;
    }
    const gt = readImage(e.maskPath, 'gray');
    let n = 0;
    for (let k = 0; k < gt.data.length; k++) {
      assert.is(it.mask[k], gt.data[k]! > 0 ? 1 : 0);
      n += it.mask[k]!;
    }
    assert.ok(n > 0, 'defect mask is not empty');
  }
  // ImageNet normalisation: a 0 byte maps to -mean/std
  const img = ds.testItem(0).image;
  assert.ok(Math.min(...img) >= -0.485 / 0.229 - 1e-6 && Math.max(...img) <= (1 - 0.406) / 0.225 + 1e-6);
});

MV('soft bilinear masks on request; resize then crop for other sizes', () => {
  const soft = AnomalyDataset.open({
    kind: 'mvtec',
    root: tmp.root,
    className: 'button',
    split: 'test',
    resize: 40,
    imagesize: 32,
    maskResample: 'bilinear',
    warn: quiet,
  });
  const m = soft.testItem(0).mask;
  assert.is(m.length, 32 * 32);
  assert.ok(
    m.some((v) => v > 0 && v < 1),
    'bilinear edges are fractional',
  );
  const hard = AnomalyDataset.open({ kind: 'mvtec', root: tmp.root, className: 'button', split: 'test', resize: 40, imagesize: 32, warn: quiet });
  assert.ok(hard.testItem(0).mask.every((v) => v === 0 || v === 1));
});

MV('train items: LAS image differs from the image only inside mask_l; deterministic per (seed, epoch, index)', () => {
  const ds = AnomalyDataset.open({
    kind: 'mvtec',
    root: tmp.root,
    className: 'button',
    split: 'train',
    resize: 72,
    imagesize: 64,
    textures: tmp.textures,
    warn: quiet,
  });
  assert.equal(ds.featShape, [8, 8]);
  const a = ds.item(2, 5, 1) as TrainItem,
    b = ds.item(2, 5, 1) as TrainItem,
    c = ds.item(2, 5, 2) as TrainItem;
  assert.equal(a.aug, b.aug);
  assert.not.equal(a.maskL, c.maskL);
  assert.equal(a.image, c.image, 'no jitter by default: the image itself is the same every epoch');
  assert.is(a.maskS!.length, 64);
  for (let i = 0; i < a.image.length; i++) if (!a.maskL![i % 4096]) assert.is(a.aug![i], a.image[i]);
  const noLas = AnomalyDataset.open({ kind: 'mvtec', root: tmp.root, className: 'button', split: 'train', resize: 72, imagesize: 64, las: false, warn: quiet });
  assert.is((noLas.item(0, 0, 0) as TrainItem).aug, undefined);
  throwsWith(() => AnomalyDataset.open({ kind: 'mvtec', root: tmp.root, className: 'button', split: 'train', warn: quiet }), 'textures');
});

MV('foreground masks from fg_mask/<class>/<name> confine mask_l', () => {
  const ds = AnomalyDataset.open({
    kind: 'mvtec',
    root: tmp.root,
    className: 'button',
    split: 'train',
    resize: 64,
    imagesize: 64,
    textures: tmp.textures,
    fg: true,
    warn: quiet,
  });
  assert.equal(ds.warnings, []);
  for (let i = 0; i < 4; i++) {
    const it = ds.item(i, 1, 0) as TrainItem;
    const fg = readImage(join(tmp.root, 'fg_mask', 'button', basename(it.path)), 'gray');
    for (let k = 0; k < fg.data.length; k++) if (fg.data[k] === 0) assert.is(it.maskL![k], 0);
  }
  // no fg folder: a warning, and the whole image counts
  const other = join(tmp.dir, 'nofg');
  cpSync(join(tmp.root, 'button'), join(other, 'button'), { recursive: true });
  const warnings: string[] = [];
  AnomalyDataset.open({ kind: 'mvtec', root: other, className: 'button', split: 'train', textures: tmp.textures, fg: true, warn: (m) => warnings.push(m) });
  assert.ok(
    warnings.some((w) => w.includes('fg_mask') && w.includes('whole image')),
    warnings.join('\n'),
  );
});

MV('jitter options change the image between epochs; the reference resize rule for wood', () => {
  const ds = AnomalyDataset.open({
    kind: 'mvtec',
    root: tmp.root,
    className: 'button',
    split: 'train',
    resize: 64,
    imagesize: 64,
    las: false,
    augment: { hflip: 1, brightness: 0.3 },
    warn: quiet,
  });
  const a = ds.trainItem(0, new Rng(1)).image,
    b = ds.trainItem(0, new Rng(2)).image;
  assert.not.equal(a, b);
  const woodRoot = join(tmp.dir, 'woodroot');
  cpSync(join(tmp.root, 'button'), join(woodRoot, 'wood'), { recursive: true });
  const warnings: string[] = [];
  const wood = AnomalyDataset.open({
    kind: 'mvtec',
    root: woodRoot,
    className: 'wood',
    split: 'test',
    resize: 288,
    imagesize: 288,
    warn: (m) => warnings.push(m),
  });
  assert.is(wood.resize, 329);
  assert.ok(warnings.some((w) => w.includes('329')));
  const mpdd = AnomalyDataset.open({ kind: 'mpdd', root: woodRoot, className: 'wood', split: 'test', resize: 288, imagesize: 288, warn: quiet });
  assert.is(mpdd.resize, 288);
});

MV.run();

const ERR = suite('datasets: listing errors and warnings');
ERR.before(() => {
  tmp = makeTmpData({ train: 3 });
});
ERR.after(() => tmp.cleanup());

ERR('missing root, class, split and train/good folders', () => {
  throwsWith(() => listMVTec(join(tmp.dir, 'absent'), 'button', 'train'), 'absent', 'does not exist');
  throwsWith(() => listMVTec(tmp.root, 'bottle', 'train'), 'bottle', 'does not exist', 'button');
  const copy = join(tmp.dir, 'c1');
  cpSync(join(tmp.root, 'button'), join(copy, 'button'), { recursive: true });
  rmSync(join(copy, 'button', 'test'), { recursive: true });
  throwsWith(() => listMVTec(copy, 'button', 'test'), 'test split', 'does not exist');
  renameSync(join(copy, 'button', 'train', 'good'), join(copy, 'button', 'train', 'ok'));
  throwsWith(() => listMVTec(copy, 'button', 'train'), "no 'good'", 'ok');
  throwsWith(() => listDataset({ kind: 'visa', split: 'train' }), 'root');
});

ERR('mask count mismatch: a missing mask and a surplus mask are both errors', () => {
  const copy = join(tmp.dir, 'c2');
  cpSync(join(tmp.root, 'button'), join(copy, 'button'), { recursive: true });
  rmSync(join(copy, 'button', 'ground_truth', 'spot', '000_mask.png'));
  throwsWith(() => listMVTec(copy, 'button', 'test'), 'spot', '1 images but 0 masks', 'no mask for 000.png');
  copyFileSync(join(tmp.root, 'button', 'ground_truth', 'crack', '000_mask.png'), join(copy, 'button', 'ground_truth', 'spot', '000_mask.png'));
  copyFileSync(join(tmp.root, 'button', 'ground_truth', 'crack', '000_mask.png'), join(copy, 'button', 'ground_truth', 'spot', '007_mask.png'));
  throwsWith(() => listMVTec(copy, 'button', 'test'), 'spot', '1 images but 2 masks', 'masks without image: 007_mask.png');
  rmSync(join(copy, 'button', 'ground_truth', 'spot'), { recursive: true });
  throwsWith(() => listMVTec(copy, 'button', 'test'), join('ground_truth', 'spot'), 'does not exist');
});

ERR('no ground_truth folder: warning, and all-zero masks for anomalous images', () => {
  const copy = join(tmp.dir, 'c3');
  cpSync(join(tmp.root, 'button'), join(copy, 'button'), { recursive: true });
  rmSync(join(copy, 'button', 'ground_truth'), { recursive: true });
  const warnings: string[] = [];
  const ds = AnomalyDataset.open({ kind: 'mvtec', root: copy, className: 'button', split: 'test', resize: 64, imagesize: 64, warn: (m) => warnings.push(m) });
  assert.ok(
    warnings.some((w) => w.includes('no ground_truth folder')),
    warnings.join('\n'),
  );
  assert.not.ok(ds.listing.hasPixelMasks);
  const it = ds.testItem(0);
  assert.is(it.label, 1);
  assert.ok(it.mask.every((v) => v === 0));
});

ERR('non-image files and stray folders are reported, not silently skipped', () => {
  const copy = join(tmp.dir, 'c4');
  cpSync(join(tmp.root, 'button'), join(copy, 'button'), { recursive: true });
  writeFileSync(join(copy, 'button', 'train', 'good', 'Thumbs.db'), 'x');
  mkdirSync(join(copy, 'button', 'train', 'good', 'old'));
  const l = listMVTec(copy, 'button', 'train');
  assert.is(l.entries.length, 3);
  assert.ok(
    l.warnings.some((w) => w.includes('non-image') && w.includes('Thumbs.db')),
    l.warnings.join('\n'),
  );
  assert.ok(
    l.warnings.some((w) => w.includes('sub-folder') && w.includes('old')),
    l.warnings.join('\n'),
  );
  // a corrupt image surfaces when the item is loaded, with its path
  writeFileSync(join(copy, 'button', 'train', 'good', '000.png'), 'not a png');
  const ds = AnomalyDataset.open({ kind: 'mvtec', root: copy, className: 'button', split: 'train', las: false, warn: quiet });
  throwsWith(() => ds.item(0, 0, 0), '000.png', 'unsupported format');
});

ERR.run();

const OTHER = suite('datasets: VisA split CSV and plain folders');
OTHER.before(() => {
  tmp = makeTmpData({ train: 3 });
});
OTHER.after(() => tmp.cleanup());

OTHER('VisA 1cls.csv: train normals, test anomaly-then-normal with masks, missing files are errors', () => {
  const v = join(tmp.dir, 'visa');
  const b = join(tmp.root, 'button');
  mkdirSync(join(v, 'split_csv'), { recursive: true });
  mkdirSync(join(v, 'pcb9', 'Data', 'Images', 'Normal'), { recursive: true });
  mkdirSync(join(v, 'pcb9', 'Data', 'Images', 'Anomaly'), { recursive: true });
  mkdirSync(join(v, 'pcb9', 'Data', 'Masks', 'Anomaly'), { recursive: true });
  const rows = ['object,split,label,image,mask'];
  for (let i = 0; i < 3; i++) {
    copyFileSync(join(b, 'train', 'good', `00${i}.png`), join(v, 'pcb9', 'Data', 'Images', 'Normal', `n${i}.png`));
    rows.push(`pcb9,${i < 2 ? 'train' : 'test'},normal,pcb9/Data/Images/Normal/n${i}.png,`);
  }
  copyFileSync(join(b, 'test', 'spot', '000.png'), join(v, 'pcb9', 'Data', 'Images', 'Anomaly', 'a0.png'));
  copyFileSync(join(b, 'ground_truth', 'spot', '000_mask.png'), join(v, 'pcb9', 'Data', 'Masks', 'Anomaly', 'a0.png'));
  rows.push('pcb9,test,anomaly,pcb9/Data/Images/Anomaly/a0.png,pcb9/Data/Masks/Anomaly/a0.png');
  rows.push('other,train,normal,other/x.png,');
  writeFileSync(join(v, 'split_csv', '1cls.csv'), rows.join('\r\n') + '\r\n');
  const tr = listVisA(v, 'pcb9', 'train');
  assert.equal(
    tr.entries.map((e) => basename(e.path)),
    ['n0.png', 'n1.png'],
  );
  assert.equal(datasetClasses('visa', v), ['other', 'pcb9']);
  const te = listVisA(v, 'pcb9', 'test');
  assert.equal(
    te.entries.map((e) => [basename(e.path), e.label, e.defect]),
    [
      ['a0.png', 1, 'anomaly'],
      ['n2.png', 0, 'normal'],
    ],
  );
  assert.ok(te.entries[0]!.maskPath!.endsWith('a0.png'));
  const ds = AnomalyDataset.open({ kind: 'visa', root: v, className: 'pcb9', split: 'test', resize: 64, imagesize: 64, warn: quiet });
  assert.ok(ds.testItem(0).mask.some((x) => x === 1));
  throwsWith(() => listVisA(v, 'pcb1', 'train'), 'pcb1', 'no rows', 'pcb9');
  writeFileSync(join(v, 'split_csv', '1cls.csv'), rows.join('\n').replace('n1.png', 'gone.png'));
  throwsWith(() => listVisA(v, 'pcb9', 'train'), 'do not exist', 'gone.png');
  rmSync(join(v, 'split_csv'), { recursive: true });
  throwsWith(() => listVisA(v, 'pcb9', 'train'), '1cls.csv', 'does not exist');
});

OTHER('plain folders: train normals, test types from sub-folders or a map, masks by name', () => {
  const b = join(tmp.root, 'button');
  const tr = listFolder({ train: join(b, 'train', 'good') }, 'train');
  assert.is(tr.entries.length, 3);
  const te = listFolder({ train: join(b, 'train', 'good'), test: join(b, 'test'), masks: join(b, 'ground_truth') }, 'test');
  assert.is(te.entries.length, 7);
  assert.ok(te.hasPixelMasks);
  const some = listFolder({ train: '', test: { good: join(b, 'test', 'good'), cut: join(b, 'test', 'crack') } }, 'test');
  assert.equal(
    some.entries.map((e) => e.defect),
    ['cut', 'good', 'good'],
  );
  assert.ok(some.warnings.some((w) => w.includes('no mask folder')));
  throwsWith(
    () => listFolder({ train: join(b, 'train', 'good'), test: { bad: join(b, 'test', 'crack') }, masks: {} }, 'test'),
    "no mask folder for test type 'bad'",
  );
  throwsWith(() => listFolder({ train: join(tmp.dir, 'nothing') }, 'train'), 'nothing', 'does not exist');
  throwsWith(() => listFolder({ train: join(b, 'train', 'good') }, 'test'), 'no test folder');
});

OTHER('--dataset custom: <root>/<class>/{train[/good], test/<type>, ground_truth/<type>}', () => {
  // the MVTec-layout tree (train/good) and a flat copy (train/ holding the images, no masks)
  const te = listDataset({ kind: 'folder', root: tmp.root, className: 'button', split: 'test' });
  assert.is(te.entries.length, 7);
  assert.ok(te.hasPixelMasks);
  assert.is(listDataset({ kind: 'folder', root: tmp.root, className: 'button', split: 'train' }).entries.length, 3);
  const flat = join(tmp.dir, 'custom', 'parts');
  mkdirSync(join(flat, 'train'), { recursive: true });
  cpSync(join(tmp.root, 'button', 'train', 'good'), join(flat, 'train'), { recursive: true });
  cpSync(join(tmp.root, 'button', 'test'), join(flat, 'test'), { recursive: true });
  assert.is(listDataset({ kind: 'folder', root: join(tmp.dir, 'custom'), className: 'parts', split: 'train' }).entries.length, 3);
  const ft = listDataset({ kind: 'folder', root: join(tmp.dir, 'custom'), className: 'parts', split: 'test' });
  assert.is(ft.entries.length, 7);
  assert.not.ok(ft.hasPixelMasks);
  assert.equal(datasetClasses('folder', join(tmp.dir, 'custom')), ['parts']);
  assert.ok(datasetClasses('mvtec', tmp.root).includes('button'));
  throwsWith(() => listDataset({ kind: 'folder', root: join(tmp.dir, 'custom'), className: 'nuts', split: 'train' }), 'custom dataset class', 'nuts');
});

OTHER.run();

const SHARED = suite('datasets: shared MVTec bottle (no ground_truth)');

SHARED('bottle lists 209 train and 83 test images, warns about the missing ground truth', () => {
  const root = sharedPath('data/mvtec_bottle');
  if (!root) return;
  const warnings: string[] = [];
  const te = AnomalyDataset.open({ kind: 'mvtec', root, className: 'bottle', split: 'test', resize: 329, imagesize: 288, warn: (m) => warnings.push(m) });
  assert.is(te.length, 83);
  assert.is(te.entries.filter((e) => e.label === 0).length, 20);
  assert.ok(warnings.some((w) => w.includes('ground_truth')));
  const tex = sharedPath('data/textures/gimp');
  if (!tex) return;
  const tr = AnomalyDataset.open({ kind: 'mvtec', root, className: 'bottle', split: 'train', resize: 329, imagesize: 288, textures: tex, warn: quiet });
  assert.is(tr.length, 209);
  const it = tr.item(0, 0, 0) as TrainItem;
  assert.is(it.image.length, 3 * 288 * 288);
  assert.is(it.maskS!.length, 36 * 36);
  assert.ok(existsSync(it.texture!));
});

SHARED.run();
