// Locates the optional ../shared folder (weights and datasets that are never copied into the repo).
// Tests call sharedPath('weights/...') and skip with the printed reason when it returns null.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const repoRoot = resolve(new URL('../..', import.meta.url).pathname);

export function sharedRoot(): string {
  return resolve(process.env.GLASS_SHARED ?? resolve(repoRoot, '../shared'));
}

/** Absolute path of `rel` inside the shared folder, or null (with a one-line reason printed). */
export function sharedPath(rel: string): string | null {
  const p = resolve(sharedRoot(), rel);
  if (existsSync(p)) return p;
  console.log(`  skip: ${p} not found (set GLASS_SHARED to the shared data folder)`);
  return null;
}
