// Decompression bombs (issue 17, item 4): a PNG or JPEG whose header declares far more pixels than
// any real input must be refused from the header, before a decoder allocates for it, with the
// file, its dimensions and the limit named; GLASS_MAX_IMAGE_PIXELS or the maxPixels option raise it.
import { suite } from 'uvu';
import { withEnv } from '../helpers/env.ts';
import { errorOf } from '../models/io/util.ts';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as zc, crc32, deflateRawSync } from 'node:zlib';
import { DEFAULT_MAX_IMAGE_PIXELS, decodeImage, readImage, readMask } from '../../data/image.ts';

const FIX = new URL('../fixtures/data/', import.meta.url).pathname;
const ENV = 'GLASS_MAX_IMAGE_PIXELS';
const test = suite('image: pixel limit (decompression bombs)');

let tmp = '';
test.before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'glass-img-limit-'));
});
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function chunk(type: string, data: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'latin1');
  b.set(data, 8);
  b.writeUInt32BE(crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
  return b;
}

/**
 * A valid 8-bit grey PNG of w x h black pixels, built without ever holding the raw rows: the zlib
 * stream is one sync-flushed 1 MiB run of zeros repeated, a final block for the rest, and the
 * Adler-32 of n zeros, which is (n mod 65521) << 16 | 1.
 */
function blackPNG(w: number, h: number): Buffer {
  const n = h * (w + 1); // each row: filter byte 0, then w zero samples
  const seg = deflateRawSync(Buffer.alloc(1 << 20), { level: 9, finishFlush: zc.Z_SYNC_FLUSH });
  const parts: Buffer[] = [Buffer.from([0x78, 0xda])];
  const whole = Math.floor(n / (1 << 20));
  for (let i = 0; i < whole; i++) parts.push(seg);
  parts.push(deflateRawSync(Buffer.alloc(n - whole * (1 << 20)), { level: 9 }));
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((n % 65521) << 16) | 1) >>> 0);
  parts.push(adler);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.concat(parts)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** The fixture JPEG with its frame header claiming w x h. */
function patchedJPEG(w: number, h: number): Buffer {
  const b = Buffer.from(readFileSync(join(FIX, 'jpeg', 'q90_420.jpg')));
  const sof = b.indexOf(Buffer.from([0xff, 0xc0]));
  b.writeUInt16BE(h, sof + 5);
  b.writeUInt16BE(w, sof + 7);
  return b;
}

test('the blackPNG builder makes a PNG that really decodes', () => {
  const img = decodeImage(blackPNG(300, 7), 'small.png');
  assert.is(img.width, 300);
  assert.is(img.height, 7);
  assert.ok(img.data.every((v) => v === 0));
});

test('a 16000x16000 PNG of a few hundred KB is refused from its header', () => {
  const p = join(tmp, 'bomb.png');
  const bytes = blackPNG(16000, 16000);
  assert.ok(bytes.length < 300_000, `${bytes.length} bytes`);
  writeFileSync(p, bytes);
  const t0 = Date.now();
  const msg = withEnv(ENV, undefined, () => errorOf(() => readImage(p)));
  assert.ok(Date.now() - t0 < 500, `${Date.now() - t0} ms: refused before decoding`);
  assert.ok(msg.startsWith(`image ${p}: 16000x16000 pixels (256.0 megapixels, from a ${bytes.length}-byte file)`), msg);
  assert.ok(msg.includes(`over the limit of ${DEFAULT_MAX_IMAGE_PIXELS} pixels`), msg);
  assert.ok(msg.includes('GLASS_MAX_IMAGE_PIXELS'), msg);
  assert.is(DEFAULT_MAX_IMAGE_PIXELS, 89_478_485, "Pillow's Image.MAX_IMAGE_PIXELS");
});

test('a JPEG whose frame header claims 16000x16000 is refused from the header', () => {
  const p = join(tmp, 'bomb.jpg');
  writeFileSync(p, patchedJPEG(16000, 16000));
  const msg = withEnv(ENV, undefined, () => errorOf(() => readMask(p)));
  assert.ok(msg.startsWith(`image ${p}: 16000x16000 pixels (256.0 megapixels`), msg);
  assert.ok(msg.includes(`over the limit of ${DEFAULT_MAX_IMAGE_PIXELS} pixels`), msg);
});

test('the limit is raisable by option and by GLASS_MAX_IMAGE_PIXELS, for PNG and JPEG', () => {
  const png = join(FIX, 'src64x48.png'); // 3072 pixels
  assert.match(
    errorOf(() => readImage(png, 'rgb', { maxPixels: 3071 })),
    /64x48 pixels .*over the limit of 3071 pixels/,
  );
  assert.is(readImage(png, 'rgb', { maxPixels: 3072 }).width, 64);
  assert.match(
    withEnv(ENV, '3071', () => errorOf(() => readImage(png))),
    /over the limit of 3071 pixels/,
  );
  assert.is(
    withEnv(ENV, '3072', () => readImage(png).height),
    48,
  );
  const jpg = join(FIX, 'jpeg', 'q90_420.jpg'); // 32x32
  assert.match(
    errorOf(() => decodeImage(readFileSync(jpg), 'q.jpg', { maxPixels: 1023 })),
    /^image q\.jpg: 32x32 pixels .*over the limit of 1023/,
  );
  assert.is(decodeImage(readFileSync(jpg), 'q.jpg', { maxPixels: 1024 }).width, 32);
  assert.match(
    withEnv(ENV, 'many', () => errorOf(() => readImage(png))),
    /GLASS_MAX_IMAGE_PIXELS=many is not a pixel count/,
  );
});

test.run();
