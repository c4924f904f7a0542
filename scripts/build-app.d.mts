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
  /** The web app (app/main.ts -> glass-ui.js, with index.html and style.css), built with the default entry. */
  ui: { file: string; bytes: number; inputs: string[]; static: string[] } | null;
  ms: number;
}
export declare const UI_ENTRY: string;
export declare const UI_STATIC: readonly string[];
export declare function buildApp(opts?: { write?: boolean; outdir?: string; entry?: string; ui?: boolean }): Promise<AppBuild>;
