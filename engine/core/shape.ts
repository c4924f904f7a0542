// Shape arithmetic shared by all ops: sizes, strides, broadcasting, dim normalisation.
export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Throws unless `shape` is an array of integer sizes >= 0, naming `op` and the shape. Size-0
 * dims are allowed, as in torch (such tensors hold no elements).
 */
export function checkShape(op: string, shape: Shape): void {
  if (shape === null || typeof shape !== 'object' || typeof (shape as { length?: unknown }).length !== 'number')
    throw new Error(`${op}: expected a shape as an array of sizes, e.g. [2, 3]; got ${String(shape)}`);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (Number.isInteger(d) && d >= 0) continue;
    const why =
      typeof d !== 'number'
        ? `is not a number (${typeof d})`
        : Number.isNaN(d)
          ? 'is NaN'
          : !Number.isFinite(d)
            ? 'is not finite'
            : !Number.isInteger(d)
              ? 'is not an integer'
              : 'is negative';
    throw new Error(`${op}: invalid shape ${fmt(Array.from(shape))}: size ${String(d)} of dim ${i} ${why}; sizes must be integers >= 0 (0 is allowed)`);
  }
}

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy/PyTorch broadcasting of any number of shapes; `op` names the caller in errors. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i];
      if (d === out[j] || d === 1) continue;
      if (out[j] === 1) out[j] = d;
      else throw new Error(`${op}: shapes ${shapes.map(fmt).join(' and ')} cannot be broadcast (dim ${j}: ${out[j]} vs ${d})`);
    }
  }
  return out;
}

/** Normalises a possibly negative dim for a tensor of rank `rank`. */
export function normDim(op: string, dim: number, rank: number): number {
  const r = Math.max(rank, 1);
  if (!Number.isInteger(dim) || dim < -r || dim >= r) throw new Error(`${op}: dim ${dim} out of range for a tensor of rank ${rank}`);
  return dim < 0 ? dim + r : dim;
}

export function normDims(op: string, dims: number | readonly number[] | undefined | null, rank: number): number[] {
  if (dims === undefined || dims === null) return [...Array(rank).keys()];
  const list = typeof dims === 'number' ? [dims] : [...dims];
  const out = list.map((d) => normDim(op, d, rank));
  if (new Set(out).size !== out.length) throw new Error(`${op}: repeated dim in [${list.join(', ')}]`);
  return out.sort((a, b) => a - b);
}

/** Resolves one -1 entry of a reshape target. */
export function inferShape(op: string, from: Shape, to: readonly number[]): number[] {
  const n = numel(from);
  to.forEach((d, i) => {
    if (d === -1 || (Number.isInteger(d) && d >= 0)) return;
    const why = Number.isNaN(d) ? 'is NaN' : !Number.isFinite(d) ? 'is not finite' : !Number.isInteger(d) ? 'is not an integer' : 'is negative';
    throw new Error(`${op}: cannot reshape ${fmt(from)} to ${fmt(to)}: size ${d} of dim ${i} ${why}; sizes must be integers >= 0, or -1 for one inferred dim`);
  });
  const unknown = to.filter((d) => d === -1).length;
  if (unknown > 1) throw new Error(`${op}: only one dimension can be -1, got ${fmt(to)}`);
  const known = to.reduce((a, d) => (d === -1 ? a : a * d), 1);
  const out = to.map((d) => (d === -1 ? (known === 0 ? 0 : n / known) : d));
  if (out.some((d) => !Number.isInteger(d) || d < 0) || numel(out) !== n) throw new Error(`${op}: cannot reshape ${fmt(from)} (${n} elements) to ${fmt(to)}`);
  return out;
}
