// Named kernel parameters. A kernel declares its uniform parameters once, as a struct of named,
// typed fields; from that one declaration come the WGSL struct and binding the shader reads
// (`prm_.name`) and the host-side packer, whose argument is an object typed by the same fields.
// So a missing, misspelt or extra field is a type error, and a value that does not fit its type
// (a negative offset for a u32, a fraction for an index) is a run-time error naming the kernel
// and the field, instead of a silently wrong result from a shifted word.
//
//   const P = paramStruct('SoftmaxParams', { lines: 'u32', n: 'u32', inner: 'u32', xOffset: 'u32' });
//   code: `${P.decl} ... if (gi >= ${P.at.lines}) { return; } ...`
//   dispatch(kernel, buffers, P.pack({ lines, n, inner, xOffset: x.offset }), grid)
//
// Fixed-length arrays (['u32', 4]) become the scalar members name_0 .. name_3: generators index
// them with constants known at generation time, and scalar members keep the uniform layout
// trivial (4-byte aligned, no padding rules to reproduce on the host).

/** The WGSL scalar type of a parameter. */
export type ParamType = 'u32' | 'i32' | 'f32';

/** Field declarations: a scalar type, or [type, length] for a fixed-length array. */
export type ParamFields = Record<string, ParamType | readonly [ParamType, number]>;

type IsArray<T> = T extends readonly [ParamType, number] ? true : false;

/** Host values for `F`: a number per scalar, a list of numbers per array. */
export type ParamValues<F extends ParamFields> = { readonly [K in keyof F]: IsArray<F[K]> extends true ? ArrayLike<number> : number };

/** WGSL expressions reading each field: a string per scalar, a list per array element. */
export type ParamRefs<F extends ParamFields> = { readonly [K in keyof F]: IsArray<F[K]> extends true ? readonly string[] : string };

/** The parameter slot holds 64 words (engine/runtime/dispatch.ts's UNIFORM_SLOT). */
export const MAX_PARAM_WORDS = 64;

/** Name of the uniform variable in WGSL; the trailing underscore keeps short local names free. */
const VAR = 'prm_';

const WGSL_IDENT = /^[A-Za-z][A-Za-z0-9_]*$/;

// f32 -> its bits without a view per call
const F32 = new Float32Array(1);
const F32_BITS = new Uint32Array(F32.buffer);

interface Slot {
  field: string;
  index: number | null;
  type: ParamType;
}

export class ParamStruct<F extends ParamFields> {
  /** WGSL: the struct type and the uniform binding 0 that holds it. */
  readonly decl: string;
  /** WGSL expressions reading each field (`prm_.name`, arrays: `prm_.name_i`). */
  readonly at: ParamRefs<F>;
  /** Words the packed struct takes. */
  readonly words: number;
  private readonly slots: Slot[] = [];
  private readonly fieldCount: number;

  constructor(
    readonly name: string,
    readonly fields: F,
  ) {
    if (!WGSL_IDENT.test(name)) throw new Error(`paramStruct: '${name}' is not a WGSL identifier`);
    const members: string[] = [];
    const at: Record<string, string | string[]> = {};
    for (const [field, decl] of Object.entries(fields)) {
      if (!WGSL_IDENT.test(field) || field.includes('__')) throw new Error(`paramStruct ${name}: field '${field}' is not a WGSL identifier`);
      if (typeof decl === 'string') {
        this.slots.push({ field, index: null, type: decl });
        members.push(`${field}: ${decl}`);
        at[field] = `${VAR}.${field}`;
      } else {
        const [type, len] = decl as readonly [ParamType, number];
        if (!Number.isInteger(len) || len < 1) throw new Error(`paramStruct ${name}: array field '${field}' needs a length >= 1, got ${len}`);
        const refs: string[] = [];
        for (let i = 0; i < len; i++) {
          this.slots.push({ field, index: i, type });
          members.push(`${field}_${i}: ${type}`);
          refs.push(`${VAR}.${field}_${i}`);
        }
        at[field] = refs;
      }
    }
    if (this.slots.length === 0) throw new Error(`paramStruct ${name}: no fields (a kernel without parameters passes null)`);
    if (this.slots.length > MAX_PARAM_WORDS)
      throw new Error(`paramStruct ${name}: ${this.slots.length} words exceed the ${MAX_PARAM_WORDS}-word parameter slot`);
    // uniform structs are sized in multiples of 16 bytes; the packer pads to match
    this.words = Math.ceil(this.slots.length / 4) * 4;
    this.fieldCount = Object.keys(fields).length;
    this.decl = `struct ${name} {\n  ${members.join(',\n  ')},\n}\n@group(0) @binding(0) var<uniform> ${VAR}: ${name};`;
    this.at = at as ParamRefs<F>;
  }

  /** The values as the uniform's words; each checked against its field's type. */
  pack(values: ParamValues<F>): Uint32Array {
    // runs for every dispatch: one allocation (the words), no per-call views or sets
    const words = new Uint32Array(this.words);
    for (let w = 0; w < this.slots.length; w++) {
      const { field, index, type } = this.slots[w];
      const raw = (values as Record<string, number | ArrayLike<number>>)[field];
      let v: number;
      if (index === null) {
        if (typeof raw !== 'number') throw new Error(`${this.name}: parameter ${field} must be a number, got ${describe(raw)}`);
        v = raw;
      } else {
        const len = (this.fields[field] as readonly [ParamType, number])[1];
        if (raw === null || typeof raw !== 'object' || raw.length !== len)
          throw new Error(`${this.name}: parameter ${field} must be a list of ${len} numbers, got ${describe(raw)}`);
        v = raw[index];
      }
      if (type === 'f32') {
        F32[0] = v;
        words[w] = F32_BITS[0];
      } else if (type === 'u32') {
        if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) throw new Error(`${this.name}: parameter ${label(field, index)} = ${v} is not a u32`);
        words[w] = v;
      } else {
        if (!(Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff))
          throw new Error(`${this.name}: parameter ${label(field, index)} = ${v} is not an i32`);
        words[w] = v >>> 0; // the i32's two's-complement bits
      }
    }
    // every declared field was read above, so more keys than fields means an undeclared one
    const keys = Object.keys(values);
    if (keys.length > this.fieldCount) throw new Error(`${this.name}: unknown parameter ${keys.find((k) => !(k in this.fields))}`);
    return words;
  }
}

function label(field: string, index: number | null): string {
  return index === null ? field : `${field}[${index}]`;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `[${v.join(', ')}]`;
  return typeof v === 'object' && v !== null ? `a ${v.constructor?.name ?? 'object'} of ${(v as ArrayLike<unknown>).length ?? '?'} items` : String(v);
}

/** Declares a kernel's parameters (see the file header). `name` is the WGSL struct's name. */
export function paramStruct<const F extends ParamFields>(name: string, fields: F): ParamStruct<F> {
  return new ParamStruct(name, fields);
}
