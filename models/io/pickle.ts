// A small, safe Python unpickler (protocols 0-4) for reading weight files. It never imports or
// runs anything: every GLOBAL is passed to the caller's allowlist, which returns a JS stand-in
// or nothing, and anything not allowed is refused with an error naming module.name. That is what
// makes loading an untrusted .pth safe here, unlike Python's pickle (which would call os.system).
//
// Python values map to JS as: None -> null, bool -> boolean, int -> number (bigint beyond 2^53),
// float -> number, str -> string, bytes/bytearray -> Uint8Array, list and tuple -> Array,
// dict -> Map (insertion order kept, keys as above), set/frozenset -> Set.
//
// Nothing here recurses, but whatever walks the result usually does, so containers nested deeper
// than maxDepth (default 1000, Python's recursion limit) are refused while they are built, naming
// the file, rather than left to overflow the stack of the first recursive walk over them. Big
// integers decode in linear time (a 1 MB LONG4 no longer takes minutes).

/** A Python callable the allowlist lends to REDUCE / NEWOBJ / INST / OBJ. */
export class PyFunction {
  constructor(
    readonly qualname: string,
    readonly call: (args: unknown[]) => unknown,
  ) {}
}

/** Implemented by JS stand-ins that accept pickle's BUILD (object.__setstate__). */
export interface PySetState {
  __setstate__(state: unknown): void;
}

export interface UnpickleOptions {
  /** Resolves an allowed global to its JS stand-in; return undefined to refuse it. */
  findGlobal: (module: string, name: string) => unknown;
  /** Resolves persistent ids (torch uses them for tensor storages); absent = refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Names the source in errors (a file path, or "file.pth:archive/data.pkl"). */
  label?: string;
  /** Text appended to "refusing global" errors, e.g. what the caller does allow. */
  refuseHint?: string;
  /** Deepest nesting of lists/tuples/dicts/sets accepted (default DEFAULT_MAX_DEPTH). */
  maxDepth?: number;
}

/** Python's default recursion limit; a state dict nests 2 to 4 levels. */
export const DEFAULT_MAX_DEPTH = 1000;

/** Attributes that BUILD set on dict-like objects (e.g. state_dict()._metadata), kept aside. */
export const pyAttributes = new WeakMap<object, Map<string, unknown>>();

const MARK = Symbol('MARK');

const OPNAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4c: 'LONG',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x58: 'BINUNICODE',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x7d: 'EMPTY_DICT',
  0x65: 'APPENDS',
  0x67: 'GET',
  0x68: 'BINGET',
  0x69: 'INST',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x29: 'EMPTY_TUPLE',
  0x75: 'SETITEMS',
  0x47: 'BINFLOAT',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Two's-complement little-endian bytes -> int, via one hex string: shifting a BigInt byte by byte is quadratic. */
function intFromLE(bytes: Uint8Array): number | bigint {
  const n = bytes.length;
  if (n === 0) return 0;
  const digits = new Array<string>(n);
  for (let i = 0; i < n; i++) digits[n - 1 - i] = HEX[bytes[i]];
  let v = BigInt('0x' + digits.join(''));
  if (bytes[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return normInt(v);
}

function normInt(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

export class Unpickler {
  private pos: number;
  private readonly view: DataView;
  private readonly label: string;

  constructor(
    private readonly data: Uint8Array,
    private readonly opts: UnpickleOptions,
    start = 0,
  ) {
    this.pos = start;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.label = opts.label ?? '<pickle>';
  }

  /** Offset of the next unread byte (the stream may hold several pickles back to back). */
  get position(): number {
    return this.pos;
  }

  private fail(msg: string, at = this.pos): never {
    throw new Error(`pickle: ${this.label}: ${msg} (at byte ${at})`);
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.data.length) {
      this.fail(`truncated: ${what} needs ${n} bytes, ${this.data.length - this.pos} left`);
    }
  }

  private bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  private line(what: string): string {
    const nl = this.data.indexOf(0x0a, this.pos);
    if (nl < 0) this.fail(`truncated: ${what} has no end of line`);
    const s = Array.from(this.data.subarray(this.pos, nl), (c) => String.fromCharCode(c)).join('');
    this.pos = nl + 1;
    return s;
  }

  private utf8(n: number, what: string): string {
    return new TextDecoder('utf-8').decode(this.bytes(n, what));
  }

  private resolve(module: string, name: string): unknown {
    const v = this.opts.findGlobal(module, name);
    if (v === undefined) {
      this.fail(`refusing global ${module}.${name}: not on the allowlist, never executed` + (this.opts.refuseHint ? `; ${this.opts.refuseHint}` : ''));
    }
    return v;
  }

  private call(fn: unknown, args: unknown, op: string): unknown {
    if (!(fn instanceof PyFunction)) this.fail(`${op} on a value that is not an allowed callable (${describe(fn)})`);
    if (!Array.isArray(args)) this.fail(`${op} on ${fn.qualname} expects an argument tuple, got ${describe(args)}`);
    try {
      return fn.call(args);
    } catch (err) {
      this.fail(`${fn.qualname}: ${(err as Error).message}`);
    }
  }

  /** Reads one pickle up to its STOP and returns the value. */
  load(): unknown {
    const stack: unknown[] = [];
    const marks: number[] = [];
    const memo = new Map<number, unknown>();
    const popMark = (): unknown[] => {
      const m = marks.pop();
      if (m === undefined) this.fail('MARK expected on the stack');
      return stack.splice(m);
    };
    const pop = (): unknown => {
      if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) this.fail('stack underflow');
      return stack.pop();
    };
    const top = (): unknown => {
      if (stack.length === 0) this.fail('stack underflow');
      return stack[stack.length - 1];
    };
    // Depth of each container built so far (an empty one is 1), updated when items are added to it.
    // A child that grows after being attached (reached again through the memo) does not update its
    // parents; the walks over the result (torch.ts) have their own depth limit for that case.
    const maxDepth = this.opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    const depths = new WeakMap<object, number>();
    const nest = <T>(c: T, items: Iterable<unknown>): T => {
      if (typeof c !== 'object' || c === null) return c;
      let d = depths.get(c) ?? 1;
      for (const x of items) {
        if (typeof x === 'object' && x !== null) {
          const dx = (depths.get(x) ?? 1) + 1;
          if (dx > d) d = dx;
        }
      }
      if (d > maxDepth) {
        this.fail(
          `nesting deeper than ${maxDepth} levels (not a weights file; whatever walked it would ` +
            'overflow the stack); UnpickleOptions.maxDepth raises the limit',
        );
      }
      depths.set(c, d);
      return c;
    };
    /** Results of allowed callables (OrderedDict(...), set(...)) are measured from their items. */
    const nestResult = (v: unknown): unknown => {
      if (v instanceof Map) return nest(v, [...v.keys(), ...v.values()]);
      if (v instanceof Set || Array.isArray(v)) return nest(v, v);
      return v;
    };
    const memoGet = (i: number): unknown => {
      if (!memo.has(i)) this.fail(`memo key ${i} was never stored`);
      return memo.get(i);
    };
    const setItems = (dict: unknown, kv: unknown[]): void => {
      if (!(dict instanceof Map)) this.fail(`SETITEM(S) on ${describe(dict)}, not a dict`);
      if (kv.length % 2) this.fail('SETITEMS with an odd number of items');
      for (let i = 0; i < kv.length; i += 2) dict.set(kv[i], kv[i + 1]);
      nest(dict, kv);
    };
    const appendItems = (list: unknown, items: unknown[]): void => {
      if (!Array.isArray(list)) this.fail(`APPEND(S) on ${describe(list)}, not a list`);
      // Not push(...items): spreading a few hundred thousand arguments overflows the stack.
      for (const x of items) list.push(x);
      nest(list, items);
    };

    for (;;) {
      const at = this.pos;
      if (this.pos >= this.data.length) this.fail('truncated: no STOP opcode');
      const op = this.data[this.pos++];
      switch (op) {
        case 0x80: {
          // PROTO
          const v = this.bytes(1, 'PROTO')[0];
          if (v > 5) this.fail(`unsupported pickle protocol ${v}`, at);
          break;
        }
        case 0x95:
          this.bytes(8, 'FRAME');
          break; // frames are only a read-ahead hint
        case 0x2e: {
          // STOP
          if (stack.length !== 1) this.fail(`STOP with ${stack.length} values on the stack`, at);
          return stack[0];
        }
        case 0x28:
          marks.push(stack.length);
          break;
        case 0x30:
          pop();
          break;
        case 0x31:
          popMark();
          break;
        case 0x32:
          stack.push(top());
          break;
        case 0x4e:
          stack.push(null);
          break;
        case 0x88:
          stack.push(true);
          break;
        case 0x89:
          stack.push(false);
          break;
        case 0x49: {
          // INT (text; "00"/"01" are protocol-0 booleans)
          const s = this.line('INT').trim();
          if (s === '00') stack.push(false);
          else if (s === '01') stack.push(true);
          else if (/^[+-]?\d+$/.test(s)) stack.push(normInt(BigInt(s)));
          else this.fail(`bad INT literal ${JSON.stringify(s)}`, at);
          break;
        }
        case 0x4c: {
          // LONG (text)
          const s = this.line('LONG').trim().replace(/L$/, '');
          if (!/^[+-]?\d+$/.test(s)) this.fail(`bad LONG literal ${JSON.stringify(s)}`, at);
          stack.push(normInt(BigInt(s)));
          break;
        }
        case 0x4a:
          this.need(4, 'BININT');
          stack.push(this.view.getInt32(this.pos, true));
          this.pos += 4;
          break;
        case 0x4b:
          stack.push(this.bytes(1, 'BININT1')[0]);
          break;
        case 0x4d:
          this.need(2, 'BININT2');
          stack.push(this.view.getUint16(this.pos, true));
          this.pos += 2;
          break;
        case 0x8a: {
          const n = this.bytes(1, 'LONG1')[0];
          stack.push(intFromLE(this.bytes(n, 'LONG1')));
          break;
        }
        case 0x8b: {
          this.need(4, 'LONG4');
          const n = this.view.getInt32(this.pos, true);
          this.pos += 4;
          stack.push(intFromLE(this.bytes(n, 'LONG4')));
          break;
        }
        case 0x46: {
          // FLOAT (text)
          const s = this.line('FLOAT').trim();
          const v = Number(s);
          if (Number.isNaN(v) && !/nan/i.test(s)) this.fail(`bad FLOAT literal ${JSON.stringify(s)}`, at);
          stack.push(v);
          break;
        }
        case 0x47:
          this.need(8, 'BINFLOAT');
          stack.push(this.view.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        case 0x53:
          stack.push(parsePyStringLiteral(this.line('STRING'), () => this.fail('bad STRING literal', at)));
          break;
        case 0x54: {
          // BINSTRING: Python 2 str; latin-1 keeps every byte
          this.need(4, 'BINSTRING');
          const n = this.view.getInt32(this.pos, true);
          this.pos += 4;
          stack.push(latin1(this.bytes(n, 'BINSTRING')));
          break;
        }
        case 0x55: {
          const n = this.bytes(1, 'SHORT_BINSTRING')[0];
          stack.push(latin1(this.bytes(n, 'SHORT_BINSTRING')));
          break;
        }
        case 0x56:
          stack.push(decodeRawUnicodeEscape(this.line('UNICODE')));
          break;
        case 0x58: {
          this.need(4, 'BINUNICODE');
          const n = this.view.getUint32(this.pos, true);
          this.pos += 4;
          stack.push(this.utf8(n, 'BINUNICODE'));
          break;
        }
        case 0x8c: {
          const n = this.bytes(1, 'SHORT_BINUNICODE')[0];
          stack.push(this.utf8(n, 'SHORT_BINUNICODE'));
          break;
        }
        case 0x8d: {
          this.need(8, 'BINUNICODE8');
          const n = Number(this.view.getBigUint64(this.pos, true));
          this.pos += 8;
          stack.push(this.utf8(n, 'BINUNICODE8'));
          break;
        }
        case 0x42: {
          this.need(4, 'BINBYTES');
          const n = this.view.getUint32(this.pos, true);
          this.pos += 4;
          stack.push(this.bytes(n, 'BINBYTES').slice());
          break;
        }
        case 0x43: {
          const n = this.bytes(1, 'SHORT_BINBYTES')[0];
          stack.push(this.bytes(n, 'SHORT_BINBYTES').slice());
          break;
        }
        case 0x8e:
        case 0x96: {
          this.need(8, OPNAMES[op]);
          const n = Number(this.view.getBigUint64(this.pos, true));
          this.pos += 8;
          stack.push(this.bytes(n, OPNAMES[op]).slice());
          break;
        }
        case 0x5d:
          stack.push([]);
          break;
        case 0x6c: {
          const l = popMark();
          stack.push(nest(l, l));
          break;
        }
        case 0x61: {
          const v = pop();
          appendItems(top(), [v]);
          break;
        }
        case 0x65: {
          const items = popMark();
          appendItems(top(), items);
          break;
        }
        case 0x29:
          stack.push([]);
          break;
        case 0x74: {
          const t = popMark();
          stack.push(nest(t, t));
          break;
        }
        case 0x85: {
          const a = pop();
          stack.push(nest([a], [a]));
          break;
        }
        case 0x86: {
          const b = pop();
          const a = pop();
          stack.push(nest([a, b], [a, b]));
          break;
        }
        case 0x87: {
          const c = pop();
          const b = pop();
          const a = pop();
          stack.push(nest([a, b, c], [a, b, c]));
          break;
        }
        case 0x7d:
          stack.push(new Map());
          break;
        case 0x64: {
          const d = new Map();
          setItems(d, popMark());
          stack.push(d);
          break;
        }
        case 0x73: {
          const v = pop();
          const k = pop();
          setItems(top(), [k, v]);
          break;
        }
        case 0x75: {
          const kv = popMark();
          setItems(top(), kv);
          break;
        }
        case 0x8f:
          stack.push(new Set());
          break;
        case 0x90: {
          const items = popMark();
          const s = top();
          if (!(s instanceof Set)) this.fail(`ADDITEMS on ${describe(s)}, not a set`, at);
          for (const x of items) s.add(x);
          nest(s, items);
          break;
        }
        case 0x91: {
          const items = popMark();
          stack.push(nest(new Set(items), items));
          break;
        }
        case 0x63: {
          // GLOBAL "module\nname\n"
          const module = this.line('GLOBAL module');
          const name = this.line('GLOBAL name');
          stack.push(this.resolve(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings', at);
          stack.push(this.resolve(module, name));
          break;
        }
        case 0x69: {
          // INST "module\nname\n" + args from MARK
          const module = this.line('INST module');
          const name = this.line('INST name');
          const fn = this.resolve(module, name);
          stack.push(nestResult(this.call(fn, popMark(), 'INST')));
          break;
        }
        case 0x6f: {
          // OBJ: MARK cls args...
          const items = popMark();
          if (items.length === 0) this.fail('OBJ without a class', at);
          stack.push(nestResult(this.call(items[0], items.slice(1), 'OBJ')));
          break;
        }
        case 0x52:
        case 0x81: {
          // REDUCE / NEWOBJ: callable(*args)
          const args = pop();
          const fn = pop();
          stack.push(nestResult(this.call(fn, args, OPNAMES[op])));
          break;
        }
        case 0x62: {
          // BUILD
          const state = pop();
          const obj = top();
          if (obj instanceof Map) {
            // dict subclasses (OrderedDict from state_dict()) carry attributes such as _metadata.
            const attrs = pyAttributes.get(obj) ?? new Map<string, unknown>();
            const dictState = Array.isArray(state) ? state[0] : state;
            if (dictState instanceof Map) for (const [k, v] of dictState) attrs.set(String(k), v);
            else if (dictState !== null) this.fail(`BUILD on a dict with state ${describe(state)}`, at);
            pyAttributes.set(obj, attrs);
          } else if (obj !== null && typeof obj === 'object' && typeof (obj as PySetState).__setstate__ === 'function') {
            (obj as PySetState).__setstate__(state);
          } else {
            this.fail(`BUILD on ${describe(obj)}, which accepts no state`, at);
          }
          break;
        }
        case 0x50: {
          // PERSID (text)
          const pid = this.line('PERSID');
          if (!this.opts.persistentLoad) this.fail('persistent id without a persistent_load', at);
          stack.push(this.opts.persistentLoad(pid));
          break;
        }
        case 0x51: {
          const pid = pop();
          if (!this.opts.persistentLoad) this.fail('persistent id without a persistent_load', at);
          stack.push(this.opts.persistentLoad(pid));
          break;
        }
        case 0x67: {
          const s = this.line('GET');
          stack.push(memoGet(Number(s)));
          break;
        }
        case 0x68:
          stack.push(memoGet(this.bytes(1, 'BINGET')[0]));
          break;
        case 0x6a:
          this.need(4, 'LONG_BINGET');
          stack.push(memoGet(this.view.getUint32(this.pos, true)));
          this.pos += 4;
          break;
        case 0x70: {
          const s = this.line('PUT');
          memo.set(Number(s), top());
          break;
        }
        case 0x71:
          memo.set(this.bytes(1, 'BINPUT')[0], top());
          break;
        case 0x72:
          this.need(4, 'LONG_BINPUT');
          memo.set(this.view.getUint32(this.pos, true), top());
          this.pos += 4;
          break;
        case 0x94:
          memo.set(memo.size, top());
          break;
        default: {
          const name = OPNAMES[op];
          this.fail(
            name
              ? `opcode ${name} is not supported (it imports or builds objects outside the allowlist)`
              : `unknown opcode 0x${op.toString(16).padStart(2, '0')} (not a pickle, or corrupted)`,
            at,
          );
        }
      }
    }
  }
}

/** Reads a single pickle from `data`. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions): unknown {
  return new Unpickler(data, opts).load();
}

/** A short description of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyFunction) return v.qualname;
  if (v instanceof Map) return `dict(${v.size})`;
  if (Array.isArray(v)) return `tuple/list(${v.length})`;
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return `${typeof v} ${String(v).slice(0, 40)}`;
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** Protocol-0 STRING: a Python repr ('...' or "...") with backslash escapes. */
function parsePyStringLiteral(line: string, bad: () => never): string {
  const s = line.trimEnd();
  const q = s[0];
  if ((q !== "'" && q !== '"') || s.length < 2 || s[s.length - 1] !== q) bad();
  const body = s.slice(1, -1);
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' };
    return map[e] ?? '\\' + e;
  });
}

/** Protocol-0 UNICODE: raw-unicode-escape (only \uXXXX and \UXXXXXXXX are escapes). */
function decodeRawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a?: string, b?: string) => String.fromCodePoint(parseInt((a ?? b)!, 16)));
}
