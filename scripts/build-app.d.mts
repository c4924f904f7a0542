// Types of build-app.mjs for the TypeScript callers (test/app/bundle.test.ts).
export declare const NODE_GLOBALS: readonly string[];
export declare const NODE_ONLY_INPUTS: readonly string[];
export interface AppBuild {
  /** The bundle's path (written only with `write`). */
  file: string;
  bytes: number;
  minifiedBytes: number;
  gzipBytes: number;
  /** Bundled modules, relative to the repository. */
  inputs: string[];
  ms: number;
}
export declare function buildApp(opts?: { write?: boolean; outdir?: string; entry?: string }): Promise<AppBuild>;
