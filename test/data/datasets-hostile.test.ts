// data/datasets.ts against hostile or sloppy inputs (issue 17): class names that would leave the
// dataset or output roots (from a VisA split CSV or a caller), and ground-truth masks of another
// size than their images (warned once per dataset, naming the file).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AnomalyDataset, checkClassName, classNameProblem, datasetClasses, listMVTec, listVisA } from '../../data/datasets.ts';
import { createImage, writePNG } from '../../data/image.ts';
import { makeTmpData, type TmpData } from './tmpdata.ts';

const t = suite('datasets: hostile inputs');
let tmp: TmpData;
t.before(() => {
  tmp = makeTmpData({ train: 3 });
});
t.after(() => tmp.cleanup());

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

t('a class name is one plain folder name', () => {
  for (const ok of ['bottle', 'metal_nut', 'pcb 1', 'Ä-é', 'a.b', '...']) assert.is(classNameProblem(ok), null, ok);
  const bad: [unknown, RegExp][] = [
    ['', /empty/],
    ['.', /relative/],
    ['..', /relative/],
    ['../x', /separator/],
    ['a/b', /separator/],
    ['/abs', /separator/],
    ['a\\b', /separator/],
    ['C:\\x', /separator/],
    ['a\nb', /control/],
    ['tab\there', /control/],
    ['nul\0', /control/],
    [3, /not a string/],
  ];
  for (const [name, why] of bad) assert.match(classNameProblem(name) ?? '', why, JSON.stringify(name));
  assert.match(
    errorOf(() => checkClassName('../../x', '-d')),
    /^-d: class name "\.\.\/\.\.\/x" contains a path separator/,
  );
});

t('a VisA split CSV whose object column leaves the root is an error naming the file and line', () => {
  const v = join(tmp.dir, 'visa-evil');
  mkdirSync(join(v, 'split_csv'), { recursive: true });
  mkdirSync(join(v, 'img'), { recursive: true });
  copyFileSync(join(tmp.root, 'button', 'train', 'good', '000.png'), join(v, 'img', 'n0.png'));
  const rows = ['object,split,label,image,mask', 'ok,train,normal,img/n0.png,', '', '../../../visa_escape/pwn,train,normal,img/n0.png,'];
  writeFileSync(join(v, 'split_csv', '1cls.csv'), rows.join('\n') + '\n');
  const msg = errorOf(() => datasetClasses('visa', v));
  assert.ok(msg.includes(join(v, 'split_csv', '1cls.csv')), msg);
  assert.match(msg, /line 4 \('object' column\): class name "\.\.\/\.\.\/\.\.\/visa_escape\/pwn" contains a path separator/);
  // a quoted field spanning lines keeps the line count right
  writeFileSync(
    join(v, 'split_csv', '1cls.csv'),
    ['object,split,label,image,mask', '"o\nk",train,normal,img/n0.png,', '..,train,normal,img/n0.png,'].join('\n'),
  );
  assert.match(
    errorOf(() => datasetClasses('visa', v)),
    /line 2 .*"o\\nk" contains a control character/,
  );
  writeFileSync(join(v, 'split_csv', '1cls.csv'), ['object,split,label,image,mask', 'ok,train,normal,img/n0.png,', '..,train,normal,img/n0.png,'].join('\n'));
  assert.match(
    errorOf(() => datasetClasses('visa', v)),
    /line 3 .*"\.\." is a relative path/,
  );
  // the listing functions refuse such names from any caller
  assert.match(
    errorOf(() => listVisA(v, '../ok', 'train')),
    /class name "\.\.\/ok"/,
  );
  assert.match(
    errorOf(() => listMVTec(tmp.root, '../synth/button', 'train')),
    /class name "\.\.\/synth\/button"/,
  );
});

t('a mask of another size than its image: one warning per dataset, naming the file', () => {
  const root = join(tmp.dir, 'masksize');
  const cls = join(root, 'thing');
  const src = join(tmp.root, 'button');
  mkdirSync(join(cls, 'train', 'good'), { recursive: true });
  copyFileSync(join(src, 'train', 'good', '000.png'), join(cls, 'train', 'good', '000.png'));
  mkdirSync(join(cls, 'test', 'spot'), { recursive: true });
  for (let i = 0; i < 3; i++) {
    copyFileSync(join(src, 'test', 'spot', '000.png'), join(cls, 'test', 'spot', `00${i}.png`));
    // the images are 64 x 64; two masks are not
    const m = i === 0 ? createImage(64, 64, 1, 255) : createImage(32, 48, 1, 255);
    writePNG(join(cls, 'ground_truth', 'spot', `00${i}_mask.png`), m);
  }
  const said: string[] = [];
  const ds = AnomalyDataset.open({ kind: 'mvtec', root, className: 'thing', split: 'test', resize: 64, imagesize: 64, warn: (m) => said.push(m) });
  assert.equal(said, [], 'nothing said at listing');
  for (let epoch = 0; epoch < 2; epoch++) for (let i = 0; i < ds.length; i++) ds.testItem(i);
  assert.is(said.length, 1, said.join('\n'));
  assert.ok(said[0]!.includes(join(cls, 'ground_truth', 'spot', '001_mask.png')), said[0]);
  assert.match(said[0]!, /is 32x48 but its image .*001\.png is 64x64/);
});

t.run();
