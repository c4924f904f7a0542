#!/usr/bin/env node
// `glass-ts <train | test | predict | judge | synth | weights> [options]`: the package's command,
// glass/cli.ts's main. An installed package runs the compiled dist/glass/cli.js; a checkout (which
// has the TypeScript sources, e.g. after `npm link`) runs glass/cli.ts through tsx, so it never
// runs a stale build.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../glass/cli.ts', import.meta.url);
let cli;
if (existsSync(fileURLToPath(source))) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
} else {
  cli = await import(new URL('../dist/glass/cli.js', import.meta.url).href);
}
process.exitCode = await cli.main(process.argv.slice(2));
