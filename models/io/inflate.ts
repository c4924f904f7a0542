// Raw DEFLATE (RFC 1951) decoding in plain TypeScript, for hosts without zlib (a browser has only
// the asynchronous DecompressionStream, and the zip reader is synchronous). Node keeps zlib (the
// host's inflateRaw, platform.ts). Like zlib's maxOutputLength, decoding stops as soon as the
// output would pass the limit, so a deflate bomb costs no more than the caller allowed.
// Huffman codes decode through one lookup table per code, indexed by the next (bit-reversed)
// maxLen bits of input.

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/** The order code-length code lengths are stored in (RFC 1951 3.2.7). */
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A decoding table: entry = symbol << 4 | code length, 0 where no code lands (invalid input). */
interface Table {
  entries: Int32Array;
  bits: number;
}

function buildTable(lengths: ArrayLike<number>, n: number, what: string): Table {
  const count = new Int32Array(16);
  let maxLen = 0;
  for (let i = 0; i < n; i++) {
    count[lengths[i]]++;
    if (lengths[i] > maxLen) maxLen = lengths[i];
  }
  count[0] = 0;
  // over-subscribed sets (more codes than the lengths allow) are corrupt; incomplete ones are
  // legal (a single distance code) and leave entries at 0
  let left = 1;
  for (let len = 1; len < 16; len++) {
    left = (left << 1) - count[len];
    if (left < 0) throw new Error(`invalid ${what} code lengths (over-subscribed)`);
  }
  const bits = Math.max(maxLen, 1);
  const entries = new Int32Array(1 << bits);
  const next = new Int32Array(16);
  for (let len = 1, code = 0; len < 16; len++) {
    code = (code + count[len - 1]) << 1;
    next[len] = code;
  }
  for (let sym = 0; sym < n; sym++) {
    const len = lengths[sym];
    if (!len) continue;
    const code = next[len]++;
    let rev = 0;
    for (let i = 0; i < len; i++) rev |= ((code >> i) & 1) << (len - 1 - i);
    for (let i = rev; i < entries.length; i += 1 << len) entries[i] = (sym << 4) | len;
  }
  return { entries, bits };
}

let fixed: { lit: Table; dist: Table } | null = null;

function fixedTables(): { lit: Table; dist: Table } {
  if (!fixed) {
    const l = new Uint8Array(288);
    l.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
    fixed = { lit: buildTable(l, 288, 'literal/length'), dist: buildTable(new Uint8Array(30).fill(5), 30, 'distance') };
  }
  return fixed;
}

/**
 * The bytes a raw DEFLATE stream decodes to, or null when they would exceed `maxOutputLength`.
 * Input after the final block is ignored, as zlib does; corrupt or truncated input throws.
 */
export function inflateRawJs(src: Uint8Array, maxOutputLength: number): Uint8Array | null {
  let pos = 0;
  let bitBuf = 0;
  let bitCount = 0;
  let out = new Uint8Array(Math.min(maxOutputLength, Math.max(1024, src.length * 4)));
  let o = 0;

  const eof = (): never => {
    throw new Error('unexpected end of data');
  };
  const bits = (n: number): number => {
    while (bitCount < n) {
      if (pos >= src.length) eof();
      bitBuf |= src[pos++] << bitCount;
      bitCount += 8;
    }
    const v = bitBuf & ((1 << n) - 1);
    bitBuf >>>= n;
    bitCount -= n;
    return v;
  };
  const decode = (t: Table): number => {
    // the last code of a stream may be shorter than the table's width: missing bits read as 0,
    // and only a code that needs them is an error
    while (bitCount < t.bits && pos < src.length) {
      bitBuf |= src[pos++] << bitCount;
      bitCount += 8;
    }
    const e = t.entries[bitBuf & ((1 << t.bits) - 1)];
    const len = e & 15;
    if (len === 0) throw new Error('invalid Huffman code');
    if (len > bitCount) eof();
    bitBuf >>>= len;
    bitCount -= len;
    return e >> 4;
  };
  /** Room for `n` more bytes; false when that passes the limit. */
  const room = (n: number): boolean => {
    if (o + n > maxOutputLength) return false;
    if (o + n > out.length) {
      const grown = new Uint8Array(Math.min(maxOutputLength, Math.max(o + n, out.length * 2)));
      grown.set(out.subarray(0, o));
      out = grown;
    }
    return true;
  };

  for (let final = 0; !final;) {
    final = bits(1);
    const type = bits(2);
    if (type === 0) {
      // stored: skip to the byte boundary; whole bytes already in the bit buffer go back to the input
      bitBuf >>>= bitCount & 7;
      bitCount -= bitCount & 7;
      pos -= bitCount >> 3;
      bitBuf = 0;
      bitCount = 0;
      if (pos + 4 > src.length) eof();
      const len = src[pos] | (src[pos + 1] << 8);
      const nlen = src[pos + 2] | (src[pos + 3] << 8);
      if ((len ^ 0xffff) !== nlen) throw new Error('invalid stored block lengths');
      pos += 4;
      if (pos + len > src.length) eof();
      if (!room(len)) return null;
      out.set(src.subarray(pos, pos + len), o);
      o += len;
      pos += len;
      continue;
    }
    let lit: Table, dist: Table;
    if (type === 1) ({ lit, dist } = fixedTables());
    else if (type === 2) {
      const nlit = bits(5) + 257,
        ndist = bits(5) + 1,
        nclen = bits(4) + 4;
      if (nlit > 286 || ndist > 30) throw new Error('too many length or distance symbols');
      const cl = new Uint8Array(19);
      for (let i = 0; i < nclen; i++) cl[CL_ORDER[i]] = bits(3);
      const clTable = buildTable(cl, 19, 'code length');
      const lengths = new Uint8Array(nlit + ndist);
      for (let i = 0; i < nlit + ndist;) {
        const sym = decode(clTable);
        if (sym < 16) {
          lengths[i++] = sym;
          continue;
        }
        let rep: number,
          v = 0;
        if (sym === 16) {
          if (i === 0) throw new Error('invalid bit length repeat');
          v = lengths[i - 1];
          rep = 3 + bits(2);
        } else rep = sym === 17 ? 3 + bits(3) : 11 + bits(7);
        if (i + rep > nlit + ndist) throw new Error('invalid bit length repeat');
        lengths.fill(v, i, i + rep);
        i += rep;
      }
      if (lengths[256] === 0) throw new Error('invalid code: missing end-of-block');
      lit = buildTable(lengths.subarray(0, nlit), nlit, 'literal/length');
      dist = buildTable(lengths.subarray(nlit), ndist, 'distance');
    } else throw new Error('invalid block type');

    for (;;) {
      const sym = decode(lit);
      if (sym < 256) {
        if (!room(1)) return null;
        out[o++] = sym;
        continue;
      }
      if (sym === 256) break;
      if (sym > 285) throw new Error('invalid literal/length code');
      const len = LEN_BASE[sym - 257] + bits(LEN_EXTRA[sym - 257]);
      const dsym = decode(dist);
      if (dsym > 29) throw new Error('invalid distance code');
      const d = DIST_BASE[dsym] + bits(DIST_EXTRA[dsym]);
      if (d > o) throw new Error('invalid distance too far back');
      if (!room(len)) return null;
      // byte by byte: a copy may overlap the bytes it produces (a run)
      for (let k = 0; k < len; k++, o++) out[o] = out[o - d];
    }
  }
  return out.length === o ? out : out.slice(0, o);
}
