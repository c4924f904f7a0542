// glass/class-table.ts: the per-class manifold/hypersphere table and resolveMode's precedence,
// which mirrors GLASS.trainer's handling of --distribution.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DATASET_CLASSES, REFERENCE_TABLE, lookupClass, parseDistributionCsv, resolveMode } from '../../glass/class-table.ts';

const t = suite('class-table');

t('MVTec table: hypersphere exactly for bottle, cable, pill, screw, transistor', () => {
  const hyper = DATASET_CLASSES.mvtec.filter((c) => REFERENCE_TABLE.mvtec[c].distribution === 1);
  assert.equal(hyper, ['bottle', 'cable', 'pill', 'screw', 'transistor']);
  assert.is(Object.keys(REFERENCE_TABLE.mvtec).length, 15);
  assert.is(REFERENCE_TABLE.mvtec.toothbrush.distribution, 0);
  assert.is(REFERENCE_TABLE.mvtec.bottle.foreground, 1);
});

t('class lists have the reference sizes', () => {
  assert.equal([DATASET_CLASSES.mvtec.length, DATASET_CLASSES.visa.length, DATASET_CLASSES.mpdd.length, DATASET_CLASSES.wfdd.length], [15, 12, 6, 4]);
});

t('distribution 0 reads the table, 4 inverts it', () => {
  assert.equal(resolveMode({ dataset: 'mvtec', className: 'bottle' }), { mode: 'hypersphere', svd: 1, source: 'table' });
  assert.equal(resolveMode({ dataset: 'mvtec', className: 'carpet', distribution: 0 }), { mode: 'manifold', svd: 0, source: 'table' });
  assert.equal(resolveMode({ dataset: 'mvtec', className: 'carpet', distribution: 4 }), { mode: 'hypersphere', svd: 1, source: 'table-inverted' });
});

t('distribution 2 / 3 force, override wins over everything', () => {
  assert.is(resolveMode({ dataset: 'mvtec', className: 'bottle', distribution: 2 }).mode, 'manifold');
  assert.is(resolveMode({ dataset: 'visa', className: 'pcb1', distribution: 3 }).mode, 'hypersphere');
  assert.equal(resolveMode({ dataset: 'mvtec', className: 'bottle', distribution: 3, override: 'manifold' }), { mode: 'manifold', svd: 0, source: 'override' });
});

t('distribution 1 and unknown classes need the judge result', () => {
  assert.throws(() => resolveMode({ dataset: 'mvtec', className: 'bottle', distribution: 1 }), /distribution 1.*judged/);
  assert.throws(() => resolveMode({ dataset: 'visa', className: 'candle' }), /visa\/candle: no table entry/);
  assert.equal(resolveMode({ dataset: 'visa', className: 'candle', judged: 'manifold' }), { mode: 'manifold', svd: 0, source: 'judge-fallback' });
  assert.equal(resolveMode({ dataset: 'mvtec', className: 'bottle', distribution: 1, judged: 'manifold' }), { mode: 'manifold', svd: 0, source: 'judge' });
});

t('a CSV export of the xlsx is consulted first', () => {
  const table = parseDistributionCsv('Class,Distribution,Foreground\nvisa_candle,1,0\nmvtec_bottle,0,0\n');
  assert.equal(lookupClass('visa', 'candle', table), { distribution: 1, foreground: 0 });
  assert.is(resolveMode({ dataset: 'mvtec', className: 'bottle', table }).mode, 'manifold');
  assert.is(resolveMode({ dataset: 'mvtec', className: 'cable', table }).mode, 'hypersphere');
  assert.throws(() => parseDistributionCsv('Class,Distribution\nx,2'), /must be 0 or 1/);
  assert.throws(() => parseDistributionCsv('Name,Value\n'), /header/);
});

t('bad inputs throw with the reason', () => {
  assert.throws(() => resolveMode({ dataset: 'mvtec', className: 'bottle', distribution: 7 as never }), /0\.\.4/);
  assert.throws(() => resolveMode({ dataset: 'mvtec', className: 'bottle', override: 'sphere' as never }), /override/);
});

t.run();
