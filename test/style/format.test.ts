// Style is not a review topic: every TypeScript/JavaScript source in the repository is as
// Prettier formats it (.prettierrc.json; `npm run format` rewrites, `npm run format:check`
// lists). This test fails naming the files that are not, so CI catches them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const root = fileURLToPath(new URL('../..', import.meta.url));
const t = suite('style');

/** Tracked and new (not ignored) source files, as git sees them; null outside a git checkout. */
function sources(): string[] | null {
  try {
    const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts', '*.mjs', '*.js'], { cwd: root, encoding: 'utf8' });
    return out.split('\n').filter(Boolean);
  } catch {
    return null;
  }
}

t('every source file is formatted by Prettier', async () => {
  const files = sources();
  if (!files) {
    console.log('  (skipped: not a git checkout, so the source list is unknown)');
    return;
  }
  const unformatted: string[] = [];
  for (const f of files) {
    const path = join(root, f);
    const info = await prettier.getFileInfo(path, { ignorePath: join(root, '.prettierignore') });
    if (info.ignored || !info.inferredParser) continue;
    const options = (await prettier.resolveConfig(path)) ?? {};
    if (!(await prettier.check(readFileSync(path, 'utf8'), { ...options, filepath: path }))) unformatted.push(f);
  }
  assert.ok(files.length > 100, `found only ${files.length} source files`);
  assert.equal(unformatted, [], `not formatted (run npm run format): ${unformatted.join(', ')}`);
});

t.run();
