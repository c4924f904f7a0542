// Seeded pseudo-random numbers for the data pipeline. Every random choice (shuffles, augmentations,
// Perlin masks, texture picks, blend weights) draws from an Rng, and each dataset item gets its own
// Rng derived from (seed, epoch, index), so results do not depend on worker count or scheduling.
// Generator: xoshiro128** (small state, good equidistribution, fast with 32-bit integer ops in JS),
// seeded through splitmix32 so that nearby seeds give unrelated streams.

/** One splitmix32 step: a well-mixed 32-bit hash of x. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Combines a seed and any number of integer keys into one 32-bit seed. Used for per-item streams:
 * deriveSeed(seed, epoch, index) is the same wherever the item is decoded.
 */
export function deriveSeed(seed: number, ...keys: number[]): number {
  let h = splitmix32(seed >>> 0);
  for (const k of keys) {
    // keys may exceed 2^32 (e.g. large indices): fold both halves in
    const lo = k >>> 0;
    const hi = Math.floor(k / 4294967296) >>> 0;
    h = splitmix32((h ^ lo) >>> 0);
    if (hi !== 0) h = splitmix32((h ^ hi) >>> 0);
  }
  return h;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    let x = seed >>> 0;
    // four successive splitmix outputs; xoshiro's state must not be all zero, which they never are together
    this.s0 = x = splitmix32(x);
    this.s1 = x = splitmix32(x);
    this.s2 = x = splitmix32(x);
    this.s3 = splitmix32(x);
  }

  /** A fresh generator for a sub-task, so adding draws in one place does not shift another's stream. */
  fork(...keys: number[]): Rng {
    return new Rng(deriveSeed(this.nextU32(), ...keys));
  }

  /** Next raw 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  random(): number {
    const a = this.nextU32() >>> 5; // 27 bits
    const b = this.nextU32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.random();
  }

  /** Normal(mean, std) by the Box-Muller transform (the second value is kept for the next call). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.random(); // log(0) guard
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** Integer uniform in [lo, hi) (numpy randint semantics), unbiased by rejection. */
  int(lo: number, hi: number): number {
    const n = hi - lo;
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || n <= 0) {
      throw new Error(`Rng.int: need integers lo < hi, got [${lo}, ${hi})`);
    }
    if (n > 4294967296) return lo + Math.floor(this.random() * n);
    const limit = 4294967296 - (4294967296 % n);
    let x: number;
    do x = this.nextU32();
    while (x >= limit);
    return lo + (x % n);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.random() < p;
  }

  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.choice: empty list');
    return items[this.int(0, items.length)]!;
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** k distinct integers from 0..n-1 in random order (numpy choice(n, k, replace=False)). */
  sample(n: number, k: number): number[] {
    if (k > n) throw new Error(`Rng.sample: cannot pick ${k} distinct of ${n}`);
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = this.int(i, n);
      const t = pool[i]!;
      pool[i] = pool[j]!;
      pool[j] = t;
    }
    return pool.slice(0, k);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
