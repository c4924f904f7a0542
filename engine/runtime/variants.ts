// Kernel variants chosen by name: an op's override (set from code) or environment variable,
// falling back to the op's own default. Shared by the elementwise and reduction launchers.
import { env } from './platform.ts';

export interface NamedVariant<T extends string> {
  /** Forces a variant (null: the op's default); returns the previous override. Unknown names throw. */
  set(v: T | null): T | null;
  /** The forced variant: set()'s, else the environment's (an unknown name there is an error), else null. */
  forced(): T | null;
}

export function namedVariant<T extends string>(op: string, names: readonly T[], envVar: string): NamedVariant<T> {
  let override: T | null = null;
  const known = (v: unknown): v is T => names.includes(v as T);
  return {
    set(v) {
      if (v !== null && !known(v)) throw new Error(`${op}: unknown variant '${v}' (${names.join(', ')})`);
      const prev = override;
      override = v;
      return prev;
    },
    forced() {
      if (override) return override;
      const v = env(envVar);
      if (v === undefined || v === '') return null;
      // a misspelt name would otherwise silently measure the default
      if (!known(v)) throw new Error(`${op}: ${envVar}='${v}' is not a variant (${names.join(', ')})`);
      return v;
    },
  };
}
