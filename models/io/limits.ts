// Resource limits for reading weight files that may be hostile. A few hundred bytes of zip, pickle
// or tensor header can describe gigabytes (a deflate bomb, a stride-0 view of one element, a
// thousand tensors over one storage), so every reader charges what it allocates for a file to one
// ByteBudget and stops, naming the file and the limit, before the allocation that would cross it.
//
// GLASS_MAX_WEIGHTS_BYTES (or the maxBytes option of ZipArchive, readTorch/loadTorch/
// loadStateDict, parseSafetensors/readSafetensors and loadTfjsLayersModel) sets the most bytes one
// weights file may make us allocate: inflated zip members plus materialised tensors. Default
// 1e9 (1 GB): the largest backbone here, wide_resnet50_2, is 0.27 GB. Accepts a plain count
// (2000000000, 2e9) or one with a unit (2G, 2GB, 2GiB, 500M, ...); "Infinity" turns it off.
import { env } from '../../engine/runtime/platform.ts';

export const WEIGHTS_BYTES_ENV = 'GLASS_MAX_WEIGHTS_BYTES';
export const DEFAULT_MAX_WEIGHTS_BYTES = 1_000_000_000;

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  ki: 2 ** 10,
  mi: 2 ** 20,
  gi: 2 ** 30,
  ti: 2 ** 40,
};

/** A byte count such as "4000000000", "4e9", "4G", "4GB" or "4GiB"; undefined when it is none. */
export function parseByteCount(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d*)?(?:e\d+)?|infinity)\s*([kmgt]i?)?b?\s*$/i.exec(text);
  if (!m) return undefined;
  const v = Number(m[1].toLowerCase() === 'infinity' ? Infinity : m[1]) * UNITS[(m[2] ?? '').toLowerCase()];
  return v > 0 ? Math.floor(v) : undefined;
}

/** The byte limit for one weights file: the option if given, else the environment, else the default. */
export function maxWeightsBytes(option?: number): number {
  if (option !== undefined) {
    if (!(option > 0)) throw new Error(`maxBytes must be a positive number of bytes, got ${option}`);
    return option;
  }
  const text = env(WEIGHTS_BYTES_ENV);
  if (text === undefined || text === '') return DEFAULT_MAX_WEIGHTS_BYTES;
  const v = parseByteCount(text);
  if (v === undefined) throw new Error(`${WEIGHTS_BYTES_ENV}=${text} is not a byte count (e.g. 4000000000, 4G or 4GiB)`);
  return v;
}

/** What one weights file has made us allocate so far, against its limit. */
export class ByteBudget {
  used = 0;
  constructor(readonly limit: number) {}

  /** Charges `bytes` for `what`, or returns why it cannot (the caller adds the file name and throws). */
  take(bytes: number, what: string): string | undefined {
    if (this.used + bytes <= this.limit) {
      this.used += bytes;
      return undefined;
    }
    return (
      `${what}${this.used ? `, and ${this.used} bytes are already used` : ''}: ` +
      `over the limit of ${this.limit} bytes for one weights file; ` +
      `if the file is genuine, raise it with ${WEIGHTS_BYTES_ENV}=<bytes> or the maxBytes option`
    );
  }
}

/** The budget a reader should use: the caller's (shared across one file's parts) or a fresh one. */
export function budgetFor(opts: { budget?: ByteBudget; maxBytes?: number }): ByteBudget {
  return opts.budget ?? new ByteBudget(maxWeightsBytes(opts.maxBytes));
}
