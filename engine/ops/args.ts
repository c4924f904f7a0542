// Argument parsing shared by the 2-D and 3-D ops (conv, pooling, unfold, interpolate) and their modules:
// PyTorch's "an int or a tuple of two (three) ints" settings, checked once with the op's name in the error.

/** A setting for both spatial dims: one number for both, or [h, w]. */
export type Pair = number | readonly [number, number];

/**
 * `v` as [h, w] (`dflt` when undefined or null). Each entry must be >= `min` and, unless
 * `integer` is false (sizes and scale factors the caller checks itself), an integer; errors name
 * the op and the setting.
 */
export function pair(op: string, name: string, v: Pair | undefined | null, dflt: Pair, min: number, integer = true): [number, number] {
  const src = v ?? dflt;
  if (typeof src === 'object' && src.length !== 2) throw new Error(`${op}: ${name} must be a number or a pair, got ${JSON.stringify(v)}`);
  const p: [number, number] = typeof src === 'number' ? [src, src] : [src[0], src[1]];
  if (p.some((d) => typeof d !== 'number' || d < min || (integer && !Number.isInteger(d))))
    throw new Error(`${op}: ${name} must be ${integer ? 'an integer' : 'a number'} >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  return p;
}

/** A setting for the three spatial dims of the 3-D ops: one number for all, or [d, h, w]. */
export type Triple = number | readonly [number, number, number];

/** `v` as [d, h, w] (`dflt` when undefined or null), checked like `pair`. */
export function triple(op: string, name: string, v: Triple | undefined | null, dflt: Triple, min: number, integer = true): [number, number, number] {
  const src = v ?? dflt;
  if (typeof src === 'object' && (!Array.isArray(src) || src.length !== 3))
    throw new Error(`${op}: ${name} must be a number or a triple, got ${JSON.stringify(v)}`);
  const t: [number, number, number] = typeof src === 'number' ? [src, src, src] : [src[0], src[1], src[2]];
  if (t.some((d) => typeof d !== 'number' || d < min || (integer && !Number.isInteger(d))))
    throw new Error(`${op}: ${name} must be ${integer ? 'an integer' : 'a number'} >= ${min} or a triple of them, got ${JSON.stringify(v)}`);
  return t;
}
