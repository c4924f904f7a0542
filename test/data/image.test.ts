// Decoders and encoder of data/image.ts against PIL (fixtures from test/fixtures/gen/data.py): every PNG
// colour type and bit depth, tRNS and Adam7 files, baseline/progressive/grey JPEG, and the error paths.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage, encodePNG, listImages, readImage, readMask, toGray, toRGB, floatToImage } from '../../data/image.ts';
import { throwsWith } from '../helpers/throws.ts';

const FIX = new URL('../fixtures/data/', import.meta.url).pathname;
const png = JSON.parse(readFileSync(join(FIX, 'png.json'), 'utf8')) as Record<
  string,
  { width: number; height: number; channels: number; data: number[]; gray?: number[] }
>;

function mad(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

const PNG = suite('image: PNG decoding vs PIL');

PNG('fixture set covers every colour type and bit depth', () => {
  for (const n of [
    'gray1',
    'gray2',
    'gray4',
    'gray8',
    'gray16',
    'graya8',
    'graya16',
    'rgb8',
    'rgb16',
    'rgba8',
    'rgba16',
    'palette1',
    'palette2',
    'palette4',
    'palette8',
  ]) {
    assert.ok(png[n], `missing fixture ${n}`);
  }
});

for (const [name, c] of Object.entries(png)) {
  PNG(`${name} decodes to PIL's pixels`, () => {
    const img = readImage(join(FIX, 'png', `${name}.png`), 'native');
    assert.is(img.width, c.width);
    assert.is(img.height, c.height);
    assert.is(img.channels, c.channels);
    assert.equal(Array.from(img.data), c.data);
    if (c.gray) assert.equal(Array.from(toGray(img).data), c.gray, 'RGB -> L as PIL convert("L")');
  });
}

PNG('grey files become 3 equal channels in rgb mode, colour files one channel in gray mode', () => {
  const g = readImage(join(FIX, 'png', 'gray8.png'));
  assert.is(g.channels, 3);
  for (let i = 0; i < g.width * g.height; i++) {
    assert.is(g.data[i * 3], png.gray8!.data[i]);
    assert.is(g.data[i * 3 + 2], png.gray8!.data[i]);
  }
  assert.is(readMask(join(FIX, 'png', 'rgb8.png')).channels, 1);
  assert.equal(Array.from(readMask(join(FIX, 'png', 'rgb8.png')).data), png.rgb8!.gray);
});

PNG('encodePNG round-trips grey and RGB images', () => {
  const rgb = readImage(join(FIX, 'src16.png'));
  assert.equal(decodeImage(encodePNG(rgb)).data, rgb.data);
  const gray = toGray(rgb);
  const back = decodeImage(encodePNG(gray));
  assert.is(back.channels, 1);
  assert.equal(back.data, gray.data);
  assert.equal(toRGB(gray).data.length, rgb.data.length);
});

PNG('floatToImage maps [lo, hi] to 0..255 with clamping', () => {
  const img = floatToImage(new Float32Array([-1, 0, 0.5, 1, 2, 0.25]), 3, 2, 1);
  assert.equal(Array.from(img.data), [0, 0, 128, 255, 255, 64]);
});

PNG.run();

const JPG = suite('image: JPEG decoding vs PIL (libjpeg)');

for (const name of ['q90_420', 'q90_444', 'q75_prog', 'gray']) {
  JPG(`${name}: mean absolute difference <= 1 level (1/255)`, () => {
    const ours = readImage(join(FIX, 'jpeg', `${name}.jpg`), 'native');
    const pil = readImage(join(FIX, 'jpeg', `${name}_pil.png`), 'native');
    assert.is(ours.channels, pil.channels);
    assert.is(ours.width, pil.width);
    const d = mad(ours.data, pil.data);
    assert.ok(d <= 1, `MAD ${d.toFixed(3)} levels`);
  });
}

JPG.run();

const ERR = suite('image: errors name the file and the reason');

let tmp = '';
ERR.before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'glass-img-'));
});
ERR.after(() => rmSync(tmp, { recursive: true, force: true }));

ERR('missing file', () => throwsWith(() => readImage(join(tmp, 'nope.png')), 'nope.png', 'ENOENT'));

ERR('empty file', () => {
  const p = join(tmp, 'empty.png');
  writeFileSync(p, new Uint8Array(0));
  throwsWith(() => readImage(p), 'empty.png', 'empty');
});

ERR('random bytes and unsupported formats', () => {
  const p = join(tmp, 'noise.png');
  writeFileSync(
    p,
    Uint8Array.from({ length: 300 }, (_, i) => (i * 97 + 13) & 255),
  );
  throwsWith(() => readImage(p), 'noise.png', 'unsupported format');
  const gif = join(tmp, 'x.png');
  writeFileSync(gif, Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'));
  throwsWith(() => readImage(gif), 'x.png', 'GIF');
});

ERR('truncated PNG at several lengths', () => {
  const full = readFileSync(join(FIX, 'src64x48.png'));
  for (const len of [10, 40, full.length >> 1, full.length - 5]) {
    const p = join(tmp, `cut${len}.png`);
    writeFileSync(p, full.subarray(0, len));
    throwsWith(() => readImage(p), `cut${len}.png`, 'truncated');
  }
});

ERR('corrupt PNG data (bad CRC / bad zlib stream)', () => {
  const full = Buffer.from(readFileSync(join(FIX, 'src64x48.png')));
  const idat = full.indexOf('IDAT');
  const bad = Buffer.from(full);
  for (let i = idat + 10; i < idat + 40; i++) bad[i] = bad[i]! ^ 0x5a;
  const p = join(tmp, 'flipped.png');
  writeFileSync(p, bad);
  throwsWith(() => readImage(p), 'flipped.png', 'corrupt PNG');
});

ERR('truncated and corrupt JPEG', () => {
  const full = readFileSync(join(FIX, 'jpeg', 'q90_420.jpg'));
  const p = join(tmp, 'cut.jpg');
  writeFileSync(p, full.subarray(0, full.length >> 1));
  throwsWith(() => readImage(p), 'cut.jpg', 'JPEG');
  const q = join(tmp, 'head.jpg');
  writeFileSync(q, full.subarray(0, 4));
  throwsWith(() => readImage(q), 'head.jpg', 'JPEG');
});

ERR('listImages: missing folder, and non-images reported separately', () => {
  throwsWith(() => listImages(join(tmp, 'absent')), 'absent', 'does not exist');
  writeFileSync(join(tmp, 'a.PNG'), encodePNG(readImage(join(FIX, 'src16.png'))));
  writeFileSync(join(tmp, 'notes.txt'), 'x');
  const l = listImages(tmp);
  assert.ok(l.files.some((f) => f.endsWith('a.PNG')));
  assert.ok(l.others.some((f) => f.endsWith('notes.txt')));
});

ERR.run();
