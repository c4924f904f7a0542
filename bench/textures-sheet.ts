// Contact sheet of the builtin LAS textures (data/procedural-textures.ts), to eyeball their variety
// after changing a generator, plus the time each texture takes at full size.
// Usage: npx tsx bench/textures-sheet.ts OUT.png [--thumb 64] [--cols 8] [--size 256] [--first 0 --count 64]
import { builtinTexture, builtinTextureName, BUILTIN_TEXTURE_COUNT, BUILTIN_TEXTURE_SIZE } from '../data/procedural-textures.ts';
import { createImage, writePNG } from '../data/image.ts';
import { resize } from '../data/transforms.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const out = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1]!.startsWith('--')));
if (!out) {
  console.error('usage: npx tsx bench/textures-sheet.ts OUT.png [--thumb 64] [--cols 8] [--size 256] [--first 0 --count 64]');
  process.exit(2);
}
const thumb = opt('thumb', 64),
  cols = opt('cols', 8),
  size = opt('size', BUILTIN_TEXTURE_SIZE);
const first = opt('first', 0),
  count = Math.min(opt('count', BUILTIN_TEXTURE_COUNT), BUILTIN_TEXTURE_COUNT - first);
const rows = Math.ceil(count / cols),
  gap = 2;
const sheet = createImage(cols * (thumb + gap) - gap, rows * (thumb + gap) - gap, 3, 255);
const times: number[] = [];
for (let j = 0; j < count; j++) {
  const i = first + j;
  const t0 = performance.now();
  const tex = builtinTexture(i, size);
  times.push(performance.now() - t0);
  const small = resize(tex, thumb);
  const ox = (j % cols) * (thumb + gap),
    oy = Math.floor(j / cols) * (thumb + gap);
  for (let y = 0; y < thumb; y++) {
    const src = small.data.subarray(y * small.width * 3, (y * small.width + thumb) * 3);
    sheet.data.set(src, ((oy + y) * sheet.width + ox) * 3);
  }
}
writePNG(out, sheet);
// the first pass includes JIT warm-up (as in a fresh loader worker); the second is the steady state
const warm: number[] = [];
for (let j = 0; j < count; j++) {
  const t0 = performance.now();
  builtinTexture(first + j, size);
  warm.push(performance.now() - t0);
}
const summary = (ts: number[]) => {
  const sorted = [...ts].sort((a, b) => a - b);
  const slow = ts
    .map((t, j) => [t, first + j] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, 3);
  return (
    `median ${sorted[sorted.length >> 1]!.toFixed(1)} ms, mean ${(ts.reduce((s, t) => s + t, 0) / ts.length).toFixed(1)} ms, ` +
    `slowest ${slow.map(([t, i]) => `${builtinTextureName(i)} ${t.toFixed(1)} ms`).join(', ')}`
  );
};
console.log(`${count} textures at ${size}x${size}\n  first pass: ${summary(times)}\n  second pass: ${summary(warm)}`);
console.log(`wrote ${out} (${sheet.width}x${sheet.height}, ${cols} per row, row-major by index)`);
