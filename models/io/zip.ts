// Minimal ZIP reader for weight containers (torch.save writes a zip of data.pkl + raw storages).
// Reads the central directory (ZIP64 included) from an in-memory buffer, inflates stored or
// deflated members, and checks each member's CRC-32, so a truncated download or a flipped byte
// becomes an error naming the file and member instead of silently wrong weights.
// Deflate bombs: inflated bytes are charged to the archive's ByteBudget (GLASS_MAX_WEIGHTS_BYTES or
// the maxBytes option, see limits.ts) from the size the directory declares, before inflating, and
// inflation stops at that declared size, so a member that lies about it costs no more than it said.
// Inflating and CRC-32 use the host's zlib where it has one (Node, platform.ts), else the pure
// TypeScript versions here and in inflate.ts.
import { host } from '../../engine/runtime/platform.ts';
import { inflateRawJs } from './inflate.ts';
import { budgetFor, type ByteBudget } from './limits.ts';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE), via zlib.crc32 where the host has it. */
export function crc32(data: Uint8Array): number {
  const native = host().crc32;
  if (native) return native(data);
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** True when the buffer starts like a zip file (local header or an empty archive's EOCD). */
export function looksLikeZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && ((buf[2] === 3 && buf[3] === 4) || (buf[2] === 5 && buf[3] === 6));
}

function hex(buf: Uint8Array, n = 4): string {
  return Array.from(buf.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

export interface ZipOptions {
  /** Most bytes all inflated members together may take (default: GLASS_MAX_WEIGHTS_BYTES or 1e9). */
  maxBytes?: number;
  /** A budget shared with the caller (a torch reader also charges its tensors to it). */
  budget?: ByteBudget;
}

export class ZipArchive {
  readonly entries: ZipEntry[] = [];
  private readonly byName = new Map<string, ZipEntry>();
  private readonly view: DataView;
  private readonly budget: ByteBudget;

  /** `label` names the file in errors. */
  constructor(
    readonly buf: Uint8Array,
    readonly label = '<buffer>',
    opts: ZipOptions = {},
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.budget = budgetFor(opts);
    this.parse();
  }

  private fail(msg: string): never {
    throw new Error(`zip: ${this.label}: ${msg}`);
  }

  private u16(o: number): number {
    return this.view.getUint16(o, true);
  }
  private u32(o: number): number {
    return this.view.getUint32(o, true);
  }
  private u64(o: number): number {
    const v = this.view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`64-bit field ${v} at offset ${o} is too large`);
    return Number(v);
  }

  private parse(): void {
    const buf = this.buf;
    if (buf.length < 22) {
      if (buf.length >= 2 && buf[0] === 0x50 && buf[1] === 0x4b) this.fail(`truncated: only ${buf.length} bytes`);
      this.fail(`not a zip file (${buf.length} bytes, starts with ${hex(buf) || 'nothing'})`);
    }
    // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
    let eocd = -1;
    for (let o = buf.length - 22; o >= Math.max(0, buf.length - 22 - 0xffff); o--) {
      if (this.u32(o) === SIG_EOCD && o + 22 + this.u16(o + 20) <= buf.length) {
        eocd = o;
        break;
      }
    }
    if (eocd < 0) {
      if (buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 3 && buf[3] === 4) {
        this.fail('truncated: end of central directory not found (incomplete download or copy?)');
      }
      this.fail(`not a zip file: wrong magic (starts with ${hex(buf)}, expected 50 4b 03 04)`);
    }
    let count = this.u16(eocd + 10);
    let cdSize = this.u32(eocd + 12);
    let cdOffset = this.u32(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.u32(loc) !== SIG_ZIP64_LOCATOR) this.fail('ZIP64 markers without a ZIP64 locator');
      const rec = this.u64(loc + 8);
      if (rec + 56 > buf.length || this.u32(rec) !== SIG_ZIP64_EOCD) this.fail(`ZIP64 end record missing at ${rec}`);
      count = this.u64(rec + 32);
      cdSize = this.u64(rec + 40);
      cdOffset = this.u64(rec + 48);
    }
    if (cdOffset + cdSize > buf.length) {
      this.fail(`truncated: central directory at ${cdOffset}+${cdSize} runs past the end (${buf.length} bytes)`);
    }
    let o = cdOffset;
    const dec = new TextDecoder('utf-8');
    for (let i = 0; i < count; i++) {
      if (o + 46 > buf.length || this.u32(o) !== SIG_CENTRAL) this.fail(`corrupt central directory entry ${i} at offset ${o}`);
      const flags = this.u16(o + 8);
      const method = this.u16(o + 10);
      const crc = this.u32(o + 16);
      let csize = this.u32(o + 20);
      let usize = this.u32(o + 24);
      const nameLen = this.u16(o + 28);
      const extraLen = this.u16(o + 30);
      const commentLen = this.u16(o + 32);
      let local = this.u32(o + 42);
      if (o + 46 + nameLen + extraLen + commentLen > buf.length) this.fail(`corrupt central directory entry ${i}`);
      const nameBytes = buf.subarray(o + 46, o + 46 + nameLen);
      // Bit 11 marks UTF-8 names; otherwise CP437, which for ASCII names (all torch writes) is the same.
      const name = flags & 0x800 ? dec.decode(nameBytes) : Array.from(nameBytes, (b) => String.fromCharCode(b)).join('');
      if (flags & 1) this.fail(`entry ${name} is encrypted`);
      // ZIP64 extended information: only the fields that overflowed are present, in this order.
      let e = o + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = this.u16(e);
        const len = this.u16(e + 2);
        if (id === 0x0001) {
          let p = e + 4;
          if (usize === 0xffffffff) {
            usize = this.u64(p);
            p += 8;
          }
          if (csize === 0xffffffff) {
            csize = this.u64(p);
            p += 8;
          }
          if (local === 0xffffffff) {
            local = this.u64(p);
            p += 8;
          }
        }
        e += 4 + len;
      }
      const entry: ZipEntry = { name, method, compressedSize: csize, size: usize, crc32: crc, localHeaderOffset: local };
      this.entries.push(entry);
      this.byName.set(name, entry);
      o += 46 + nameLen + extraLen + commentLen;
    }
  }

  names(): string[] {
    return this.entries.map((e) => e.name);
  }

  get(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Inflates a member, stopping one byte past its declared size (zlib's maxOutputLength). */
  private inflate(raw: Uint8Array, e: ZipEntry): Uint8Array {
    const tooLong = (): never => this.fail(`${e.name} inflates to more than the ${e.size} bytes its directory entry declares (corrupt, or a zip bomb)`);
    let data: Uint8Array | null;
    try {
      // The one byte of slack tells a member longer than declared apart from one that fits exactly.
      data = (host().inflateRaw ?? inflateRawJs)(raw, e.size + 1);
    } catch (err) {
      this.fail(`cannot inflate ${e.name}: ${(err as Error).message}`);
    }
    if (data === null || data.length > e.size) return tooLong();
    return data;
  }

  /** The member's bytes (a view into the archive for stored members), CRC-checked unless told not to. */
  read(name: string, opts: { verify?: boolean } = {}): Uint8Array {
    const e = this.byName.get(name);
    if (!e) this.fail(`no member named ${name}`);
    const o = e.localHeaderOffset;
    if (o + 30 > this.buf.length) this.fail(`truncated: local header of ${name} at ${o} is past the end`);
    if (this.u32(o) !== SIG_LOCAL) this.fail(`bad local header signature for ${name} at offset ${o}`);
    // The local header's name/extra lengths can differ from the central copy (torch pads the
    // extra field to align storages), so the data offset must come from the local header.
    const start = o + 30 + this.u16(o + 26) + this.u16(o + 28);
    const end = start + e.compressedSize;
    if (end > this.buf.length) {
      this.fail(`truncated: ${name} needs bytes ${start}..${end} but the file has ${this.buf.length}`);
    }
    const raw = this.buf.subarray(start, end);
    let data: Uint8Array;
    if (e.method === 0) {
      data = raw;
    } else if (e.method === 8) {
      const over = this.budget.take(e.size, `${name} inflates to ${e.size} bytes`);
      if (over) this.fail(over);
      data = this.inflate(raw, e);
    } else {
      this.fail(`${name} uses compression method ${e.method}; only stored (0) and deflate (8) are supported`);
    }
    if (data.length !== e.size) this.fail(`${name} has ${data.length} bytes, the directory says ${e.size}`);
    if (opts.verify !== false) {
      const c = crc32(data);
      if (c !== e.crc32) {
        this.fail(`bad CRC for ${name}: computed ${c.toString(16).padStart(8, '0')}, ` + `stored ${e.crc32.toString(16).padStart(8, '0')} (file corrupted?)`);
      }
    }
    return data;
  }
}
