// models/io/inflate.ts, the raw DEFLATE decoder for hosts without zlib (a browser): the same bytes
// as zlib for streams zlib writes (stored, fixed and dynamic Huffman blocks, every level and
// strategy, long runs), the output limit as zlib's maxOutputLength, corrupt input refused; and the
// zip reader on the browser's host (no zlib) reads the same members and stops the same bombs.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { setHost } from '../../../engine/runtime/platform.ts';
import { browserHost } from '../../../engine/runtime/platform-browser.ts';
import { inflateRawJs } from '../../../models/io/inflate.ts';
import { crc32, ZipArchive } from '../../../models/io/zip.ts';
import { buildZipArchive, errorOf, fixture, readJson, zeroDeflateStream } from './util.ts';
import { openZip } from '../../../models/io/files.ts';

const test = suite('models/io/inflate');

/** Deterministic bytes: text-like (compressible), random, and runs. */
function corpus(n: number, seed: number): Uint8Array {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const words = ['glass', 'anomaly', 'tensor', 'kernel', ' ', ' ', '\n', 'the', 'of', 'mask'];
  const out = new Uint8Array(n);
  for (let i = 0; i < n;) {
    const kind = rnd() % 4;
    if (kind === 0) for (let k = rnd() % 64; k > 0 && i < n; k--) out[i++] = rnd();
    else if (kind === 1) for (let k = rnd() + 3; k > 0 && i < n; k--) out[i++] = 7;
    else for (const c of words[rnd() % words.length]) if (i < n) out[i++] = c.charCodeAt(0);
  }
  return out;
}

test('decodes what zlib writes: every level and strategy, stored to dynamic blocks', () => {
  const inputs = [new Uint8Array(0), new Uint8Array([42]), corpus(1000, 1), corpus(200_000, 2), new Uint8Array(70_000).fill(3)];
  const strategies = [constants.Z_DEFAULT_STRATEGY, constants.Z_FILTERED, constants.Z_HUFFMAN_ONLY, constants.Z_RLE, constants.Z_FIXED];
  for (const [i, data] of inputs.entries()) {
    for (const level of [0, 1, 6, 9]) {
      for (const strategy of strategies) {
        const raw = deflateRawSync(data, { level, strategy });
        const got = inflateRawJs(raw, data.length + 1);
        assert.ok(got, `input ${i} level ${level} strategy ${strategy}: not null`);
        assert.is(got!.length, data.length, `input ${i} level ${level} strategy ${strategy}: length`);
        assert.is(crc32(got!), crc32(data), `input ${i} level ${level} strategy ${strategy}: bytes`);
      }
    }
  }
});

test('stops at the output limit like zlib (null one byte past it, the exact size fits)', () => {
  const data = corpus(5000, 3);
  const raw = deflateRawSync(data);
  assert.is(inflateRawJs(raw, data.length)!.length, data.length);
  assert.is(inflateRawJs(raw, data.length - 1), null);
  assert.is(inflateRawJs(deflateRawSync(data, { level: 0 }), 100), null, 'stored blocks too');
  // 64 MiB of zeros from ~64 KB: refused after a few bytes past the limit, not after inflating it all
  const t0 = Date.now();
  assert.is(inflateRawJs(zeroDeflateStream(64), 1000), null);
  assert.ok(Date.now() - t0 < 500, 'stopped early');
});

test('refuses corrupt or truncated streams; ignores bytes after the final block, as zlib', () => {
  const raw = deflateRawSync(corpus(3000, 4));
  assert.match(
    errorOf(() => inflateRawJs(raw.subarray(0, raw.length >> 1), 1e6)),
    /unexpected end of data/,
  );
  assert.match(
    errorOf(() => inflateRawJs(new Uint8Array([0x07]), 100)),
    /invalid block type/,
  );
  assert.match(
    errorOf(() => inflateRawJs(new Uint8Array([0x01, 0x05, 0x00, 0x00, 0x00]), 100)),
    /invalid stored block lengths/,
  );
  // a fixed-Huffman block whose first code copies 3 bytes from distance 1, before any output
  assert.match(
    errorOf(() => inflateRawJs(new Uint8Array([0x03, 0x02, 0x00]), 100)),
    /invalid distance too far back/,
  );
  for (let i = 0; i < 200; i++) {
    // flipped bytes: zlib and we may disagree on where a damaged stream ends, never on good output
    const bad = raw.slice();
    bad[(i * 37) % bad.length] ^= 1 << (i % 8);
    let ours: Uint8Array | null | Error;
    try {
      ours = inflateRawJs(bad, 1e6);
    } catch (e) {
      ours = e as Error;
    }
    let theirs: Uint8Array | Error;
    try {
      theirs = inflateRawSync(bad);
    } catch (e) {
      theirs = e as Error;
    }
    if (ours instanceof Uint8Array && theirs instanceof Uint8Array) assert.is(crc32(ours), crc32(theirs), `flip ${i}`);
  }
  const tail = new Uint8Array([...deflateRawSync(new Uint8Array([1, 2, 3])), 0xde, 0xad]);
  assert.equal([...inflateRawJs(tail, 10)!], [1, 2, 3]);
});

test("the zip reader on a browser's host (no zlib): same members, same bomb limits", () => {
  const prev = setHost(browserHost());
  try {
    const want = readJson('deflate_zip.json');
    const z = openZip(fixture('deflate.zip'));
    for (const name of Object.keys(want)) assert.is(z.read(name).length, want[name].size, name);
    assert.is(new TextDecoder().decode(z.read('a.txt')), 'glass-ts '.repeat(200));
    assert.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926, 'table CRC-32');
    const liar = buildZipArchive([{ name: 'liar', data: new Uint8Array(1000), raw: zeroDeflateStream(64) }]);
    assert.match(
      errorOf(() => new ZipArchive(liar, 'liar.zip').read('liar')),
      /^zip: liar\.zip: liar inflates to more than the 1000 bytes its directory entry declares/,
    );
    const broken = buildZipArchive([{ name: 'x', data: new Uint8Array(10), raw: new Uint8Array([0x07]) }]);
    assert.match(
      errorOf(() => new ZipArchive(broken, 'broken.zip').read('x')),
      /^zip: broken\.zip: cannot inflate x: invalid block type/,
    );
  } finally {
    setHost(prev);
  }
});

test.run();
