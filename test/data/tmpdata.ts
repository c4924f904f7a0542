// Test helper: a tiny synthetic MVTec-layout dataset plus a texture folder in a temporary directory,
// made once per test file (64 px, a handful of images) so dataset and loader tests stay fast.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../../data/synthetic.ts';

const FIX = new URL('../fixtures/data/', import.meta.url).pathname;

export interface TmpData {
  dir: string;
  root: string;
  textures: string;
  cleanup: () => void;
}

export function makeTmpData(opts: { train?: number; size?: number } = {}): TmpData {
  const dir = mkdtempSync(join(tmpdir(), 'glass-data-'));
  const root = join(dir, 'synth');
  writeSyntheticDataset(root, { classes: ['button'], size: opts.size ?? 64, train: opts.train ?? 6, testGood: 2, testDefective: 5, seed: 3 });
  // textures in nested folders (DTD-like), one PNG and one JPEG
  const textures = join(dir, 'textures');
  mkdirSync(join(textures, 'a'), { recursive: true });
  mkdirSync(join(textures, 'b', 'c'), { recursive: true });
  copyFileSync(join(FIX, 'src64x48.png'), join(textures, 'a', 't1.png'));
  copyFileSync(join(FIX, 'jpeg', 'q90_420.jpg'), join(textures, 'b', 'c', 't2.jpg'));
  return { dir, root, textures, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
