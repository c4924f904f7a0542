// ZIP reader: stored/deflate members from Python's zipfile and torch.save, ZIP64 from a hand-built
// archive, and the errors for wrong magic, truncation, bad CRC and unsupported methods.
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openZip } from '../../../models/io/files.ts';
import { ZipArchive, crc32 } from '../../../models/io/zip.ts';
import { errorOf, fixture, readJson } from './util.ts';

const test = suite('models/io/zip');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A stored-only archive; with zip64 every size/offset goes through the ZIP64 records. */
function buildZip(files: [string, Uint8Array][], zip64: boolean): Uint8Array {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let off = 0;
  for (const [name, data] of files) {
    const nm = Buffer.from(name);
    const crc = crc32(data);
    const ext = zip64 ? Buffer.alloc(20) : Buffer.alloc(0);
    if (zip64) {
      ext.writeUInt16LE(1, 0);
      ext.writeUInt16LE(16, 2);
      ext.writeBigUInt64LE(BigInt(data.length), 4);
      ext.writeBigUInt64LE(BigInt(data.length), 12);
    }
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(45, 4);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(zip64 ? 0xffffffff : data.length, 18);
    lh.writeUInt32LE(zip64 ? 0xffffffff : data.length, 22);
    lh.writeUInt16LE(nm.length, 26);
    lh.writeUInt16LE(ext.length, 28);
    chunks.push(lh, nm, ext, Buffer.from(data));
    const cext = zip64 ? Buffer.alloc(28) : Buffer.alloc(0);
    if (zip64) {
      cext.writeUInt16LE(1, 0);
      cext.writeUInt16LE(24, 2);
      cext.writeBigUInt64LE(BigInt(data.length), 4);
      cext.writeBigUInt64LE(BigInt(data.length), 12);
      cext.writeBigUInt64LE(BigInt(off), 20);
    }
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(45, 4);
    ch.writeUInt16LE(45, 6);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(zip64 ? 0xffffffff : data.length, 20);
    ch.writeUInt32LE(zip64 ? 0xffffffff : data.length, 24);
    ch.writeUInt16LE(nm.length, 28);
    ch.writeUInt16LE(cext.length, 30);
    ch.writeUInt32LE(zip64 ? 0xffffffff : off, 42);
    central.push(ch, nm, cext);
    off += 30 + nm.length + ext.length + data.length;
  }
  const cd = Buffer.concat(central);
  const tail: Buffer[] = [];
  if (zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(files.length), 24);
    rec.writeBigUInt64LE(BigInt(files.length), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(off), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(off + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(rec, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(zip64 ? 0xffff : files.length, 8);
  eocd.writeUInt16LE(zip64 ? 0xffff : files.length, 10);
  eocd.writeUInt32LE(zip64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(zip64 ? 0xffffffff : off, 16);
  return new Uint8Array(Buffer.concat([...chunks, cd, ...tail, eocd]));
}

/** Byte offset of a member's data inside the archive (after its local header). */
function dataOffset(buf: Uint8Array, z: ZipArchive, name: string): number {
  const o = z.get(name)!.localHeaderOffset;
  const dv = new DataView(buf.buffer, buf.byteOffset);
  return o + 30 + dv.getUint16(o + 26, true) + dv.getUint16(o + 28, true);
}

test('crc32 of the standard check string', () => {
  assert.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.is(crc32(new Uint8Array(0)), 0);
});

test('reads stored, deflated and empty members written by Python zipfile', () => {
  const want = readJson('deflate_zip.json');
  const z = openZip(fixture('deflate.zip'));
  assert.equal(z.names(), ['a.txt', 'dir/b.bin', 'dir/empty']);
  for (const [name, e] of Object.entries<any>(want)) {
    assert.is(z.get(name)!.method, e.method, `${name} method`);
    const data = z.read(name);
    assert.is(data.length, e.size, `${name} size`);
    if (e.hex !== undefined) assert.is(hex(data), e.hex, name);
    else assert.is(hex(data.subarray(0, 18)), e.hex_prefix, name);
  }
  assert.is(new TextDecoder().decode(z.read('a.txt')), 'glass-ts '.repeat(200));
});

test('lists the records of a torch.save archive', () => {
  const z = openZip(fixture('basic.pth'));
  assert.ok(z.has('basic/data.pkl'));
  assert.ok(z.has('basic/version'));
  assert.is(new TextDecoder().decode(z.read('basic/version')).trim(), '3');
});

test('ZIP64 end records and extra fields', () => {
  const files: [string, Uint8Array][] = [
    ['x/one', new Uint8Array([1, 2, 3])],
    ['x/two', new TextEncoder().encode('zip64!')],
  ];
  const plain = new ZipArchive(buildZip(files, false));
  const z = new ZipArchive(buildZip(files, true));
  for (const a of [plain, z]) {
    assert.equal(a.names(), ['x/one', 'x/two']);
    assert.equal(Array.from(a.read('x/one')), [1, 2, 3]);
    assert.is(new TextDecoder().decode(a.read('x/two')), 'zip64!');
  }
  assert.is(z.get('x/two')!.size, 6);
});

test('wrong magic and tiny inputs are "not a zip"', () => {
  const png = new Uint8Array(200);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.match(
    errorOf(() => new ZipArchive(png, 'img.png')),
    /zip: img\.png: not a zip file: wrong magic \(starts with 89 50 4e 47/,
  );
  assert.match(
    errorOf(() => new ZipArchive(new Uint8Array(3), 'tiny')),
    /not a zip file \(3 bytes/,
  );
});

test('a truncated archive names the problem', () => {
  const buf = readFileSync(fixture('basic.pth'));
  const half = buf.subarray(0, buf.length >> 1);
  assert.match(
    errorOf(() => new ZipArchive(half, 'half.pth')),
    /zip: half\.pth: truncated: end of central directory not found/,
  );
  // Directory intact but a member claims more bytes than the file holds.
  const z = readFileSync(fixture('deflate.zip'));
  const cd = new ZipArchive(z);
  const o = z.indexOf(Buffer.from('dir/b.bin'), cd.get('dir/b.bin')!.localHeaderOffset + 31) - 46;
  const bad = Buffer.from(z);
  bad.writeUInt32LE(1_000_000, o + 20);
  assert.match(
    errorOf(() => new ZipArchive(bad, 'big.zip').read('dir/b.bin')),
    /truncated: dir\/b\.bin needs bytes/,
  );
});

test('a flipped byte fails the CRC check (and only the check)', () => {
  const buf = Buffer.from(readFileSync(fixture('deflate.zip')));
  const z0 = new ZipArchive(buf);
  buf[dataOffset(buf, z0, 'dir/b.bin') + 10] ^= 0x40;
  const z = new ZipArchive(buf, 'flip.zip');
  assert.match(
    errorOf(() => z.read('dir/b.bin')),
    /zip: flip\.zip: bad CRC for dir\/b\.bin: computed [0-9a-f]{8}, stored [0-9a-f]{8}/,
  );
  assert.is(z.read('dir/b.bin', { verify: false })[10], 10 ^ 0x40);
  assert.is(z.read('a.txt').length, 1800, 'other members still read');
  const buf2 = Buffer.from(readFileSync(fixture('deflate.zip')));
  buf2[dataOffset(buf2, z0, 'a.txt') + 5] ^= 0xff;
  assert.match(
    errorOf(() => new ZipArchive(buf2).read('a.txt')),
    /cannot inflate a\.txt|bad CRC for a\.txt|a\.txt has \d+ bytes/,
  );
});

test('unsupported compression method and missing member', () => {
  const buf = Buffer.from(readFileSync(fixture('deflate.zip')));
  const z0 = new ZipArchive(buf);
  const o = buf.indexOf(Buffer.from('a.txt'), z0.get('dir/empty')!.localHeaderOffset + 30) - 46;
  buf.writeUInt16LE(12, o + 10);
  assert.match(
    errorOf(() => new ZipArchive(buf).read('a.txt')),
    /a\.txt uses compression method 12; only stored \(0\) and deflate \(8\)/,
  );
  assert.match(
    errorOf(() => z0.read('nope')),
    /no member named nope/,
  );
});

test.run();
