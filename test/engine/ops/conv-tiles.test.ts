// conv2d's kernel and tile choices (planConv2d, from the rule tables of engine/ops/conv.ts) pinned
// for representative shapes: projection-style 1x1 convolutions (256-1536 channels on 28x28 maps), 3x3,
// strided, depthwise, dilated and grouped ones, with and without subgroups. The expectations are
// what conv2d chose before its rules became tables, so a rule that changes must change them on
// purpose. Then each plan against the kernels conv2d dispatches, forward and backward.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { setDispatchHook } from '../../../engine/runtime/dispatch.ts';
import { randomValues } from '../../helpers/oracle.ts';

const fwd = (f: E.ConvForwardPlan) =>
  f.kernel === 'gemm' ? `gemm ${f.tm}x${f.tn} wg${f.wg} sg${f.sg}` : `direct ${f.tr}x${f.tn} wg${f.wg} ${f.lead === null ? 'padded' : `lead${f.lead}`}`;
const wgrad = (w: E.ConvWeightGradPlan) => `${w.kernel} ${w.tm}x${w.tc}x${w.pv} ${w.rowPerLane ? 'row' : 'all'} wg${w.wg} sg${w.sg} splits${w.splits}`;
/** forward | input gradient | weight gradient */
const describe = (p: E.ConvPlan) => (p.kernel === 'matmul' ? 'matmul' : `${fwd(p.forward)} | ${fwd(p.inputGrad)} | ${wgrad(p.weightGrad)}`);

// name, input, weight, options, device subgroup size, tuning, expected plan
type Pin = [string, number[], number[], E.Conv2dOptions, number, Partial<E.ConvTuning> | null, string];
const pins: Pin[] = [
  ['1x1 256->512 on 28x28 with subgroups: the matmul kernel', [8, 256, 28, 28], [512, 256, 1, 1], {}, 8, null, 'matmul'],
  ['1x1 256->512 on 28x28', [8, 256, 28, 28], [512, 256, 1, 1], {}, 0, null, 'gemm 32x4 wg16 sg0 | gemm 32x4 wg16 sg0 | wgrad 16x4x1 all wg64 sg0 splits2'],
  ['1x1 512->1024 on 28x28', [8, 512, 28, 28], [1024, 512, 1, 1], {}, 0, null, 'gemm 32x4 wg16 sg0 | gemm 32x4 wg16 sg0 | wgrad 16x4x1 all wg64 sg0 splits1'],
  [
    '1x1 1536->1536 on 28x28',
    [8, 1536, 28, 28],
    [1536, 1536, 1, 1],
    {},
    0,
    null,
    'gemm 32x4 wg16 sg0 | gemm 32x4 wg16 sg0 | wgrad 16x4x1 all wg64 sg0 splits1',
  ],
  [
    '1x1 1024->256 on 28x28, one image',
    [1, 1024, 28, 28],
    [256, 1024, 1, 1],
    {},
    0,
    null,
    'gemm 32x4 wg16 sg0 | gemm 32x4 wg16 sg0 | wgrad 16x4x1 all wg64 sg0 splits1',
  ],
  [
    '1x1 1536->1024 on 28x28, gemm kernel asked for',
    [8, 1536, 28, 28],
    [1024, 1536, 1, 1],
    {},
    8,
    { matmul1x1: false },
    'gemm 32x4 wg16 sg8 | gemm 32x4 wg16 sg8 | wgrad 16x4x1 all wg64 sg8 splits1',
  ],
  [
    '3x3 128->128 pad 1 on 28x28',
    [8, 128, 28, 28],
    [128, 128, 3, 3],
    { padding: 1 },
    8,
    null,
    'gemm 32x4 wg16 sg8 | gemm 32x4 wg16 sg8 | wgrad 16x1x1 all wg64 sg8 splits4',
  ],
  [
    '3x3 64->64 pad 1 on 56x56',
    [2, 64, 56, 56],
    [64, 64, 3, 3],
    { padding: 1 },
    8,
    null,
    'gemm 32x4 wg64 sg8 | gemm 32x4 wg64 sg8 | wgrad 16x1x1 all wg64 sg8 splits16',
  ],
  [
    '3x3 256->256 pad 1 on 14x14, no subgroups',
    [8, 256, 14, 14],
    [256, 256, 3, 3],
    { padding: 1 },
    0,
    null,
    'gemm 32x4 wg64 sg0 | gemm 32x4 wg64 sg0 | wgrad 16x1x1 all wg64 sg0 splits1',
  ],
  [
    '3x3 3->16 pad 1 (3 input channels: direct input gradient)',
    [1, 3, 32, 32],
    [16, 3, 3, 3],
    { padding: 1 },
    8,
    null,
    'gemm 16x4 wg64 sg8 | direct 4x8 wg16 lead3 | wgrad 16x1x1 all wg16 sg8 splits8',
  ],
  [
    '3x3 stride 2 64->128 on 56x56',
    [8, 64, 56, 56],
    [128, 64, 3, 3],
    { stride: 2, padding: 1 },
    8,
    null,
    'gemm 32x4 wg16 sg8 | gemm 32x4 wg64 sg8 | wgrad 16x1x1 all wg64 sg8 splits8',
  ],
  [
    '1x1 stride 2 256->512 on 56x56 (downsample)',
    [8, 256, 56, 56],
    [512, 256, 1, 1],
    { stride: 2 },
    8,
    null,
    'gemm 32x4 wg16 sg8 | gemm 32x4 wg64 sg8 | wgrad 16x4x1 all wg64 sg8 splits2',
  ],
  [
    '7x7 stride 2 stem 3->64 on 224x224',
    [1, 3, 224, 224],
    [64, 3, 7, 7],
    { stride: 2, padding: 3 },
    8,
    null,
    'gemm 32x4 wg64 sg8 | direct 4x8 wg64 padded | wgrad 4x1x1 row wg16 sg8 splits12',
  ],
  [
    '5x5 16->32 pad 2 on 20x20 (one kernel row per lane)',
    [1, 16, 20, 20],
    [32, 16, 5, 5],
    { padding: 2 },
    8,
    null,
    'gemm 32x4 wg16 sg8 | gemm 16x4 wg16 sg8 | wgrad 8x1x1 row wg16 sg8 splits5',
  ],
  [
    'depthwise 3x3 32 on 112x112',
    [1, 32, 112, 112],
    [32, 1, 3, 3],
    { groups: 32, padding: 1 },
    8,
    null,
    'direct 4x8 wg64 lead3 | direct 4x8 wg64 lead3 | wgradDirect 1x1x1 all wg16 sg0 splits28',
  ],
  [
    'depthwise 3x3 stride 2 96 on 112x112',
    [1, 96, 112, 112],
    [96, 1, 3, 3],
    { groups: 96, stride: 2, padding: 1 },
    8,
    null,
    'direct 2x8 wg16 lead3 | direct 4x8 wg64 padded | wgradDirect 1x1x1 all wg16 sg0 splits14',
  ],
  [
    'depthwise 3x3 144 on 28x28',
    [8, 144, 28, 28],
    [144, 1, 3, 3],
    { groups: 144, padding: 1 },
    8,
    null,
    'direct 4x8 wg16 lead3 | direct 4x8 wg16 lead3 | wgradDirect 1x1x1 all wg16 sg0 splits28',
  ],
  [
    'depthwise 3x3 32 on 14x14',
    [8, 32, 14, 14],
    [32, 1, 3, 3],
    { groups: 32, padding: 1 },
    8,
    null,
    'direct 2x8 wg16 padded | direct 2x8 wg16 padded | wgradDirect 1x1x1 all wg16 sg0 splits28',
  ],
  [
    'depthwise 3x3 576 on 7x7',
    [8, 576, 7, 7],
    [576, 1, 3, 3],
    { groups: 576, padding: 1 },
    8,
    null,
    'direct 1x4 wg16 padded | direct 1x4 wg16 padded | wgradDirect 1x1x1 all wg64 sg0 splits7',
  ],
  [
    'depthwise 5x5 stride 2 TF same 240 on 28x28',
    [1, 240, 28, 28],
    [240, 1, 5, 5],
    { groups: 240, stride: 2, padding: [1, 2, 1, 2] },
    8,
    null,
    'direct 2x8 wg16 lead3 | direct 4x8 wg16 padded | wgradDirect 1x1x1 all wg64 sg0 splits4',
  ],
  [
    'depthwise 3x3 dilation 2 on 20x20 (stride not a multiple of the dilation)',
    [1, 8, 20, 20],
    [8, 1, 3, 3],
    { groups: 8, padding: 2, dilation: 2 },
    8,
    null,
    'direct 1x8 wg64 lead2 | direct 1x8 wg64 lead2 | wgradDirect 1x1x1 all wg16 sg0 splits5',
  ],
  [
    'depthwise 3x3 on 15x15 (rows not whole vec4s: padded copy)',
    [1, 8, 15, 15],
    [8, 1, 3, 3],
    { groups: 8, padding: 1 },
    8,
    null,
    'direct 2x8 wg16 padded | direct 2x8 wg16 padded | wgradDirect 1x1x1 all wg16 sg0 splits4',
  ],
  [
    '3x3 8->2 (fewer than 4 output channels)',
    [1, 8, 16, 16],
    [2, 8, 3, 3],
    { padding: 1 },
    8,
    null,
    'direct 4x8 wg16 lead3 | gemm 8x4 wg64 sg8 | wgradDirect 1x1x1 all wg16 sg0 splits4',
  ],
  [
    '3x3 groups 2, 64->64 on 28x28',
    [1, 64, 28, 28],
    [64, 32, 3, 3],
    { groups: 2, padding: 1 },
    8,
    null,
    'gemm 32x4 wg16 sg8 | gemm 32x4 wg16 sg8 | wgrad 16x1x1 all wg16 sg8 splits7',
  ],
  [
    'tuned: 8x8 gemm tiles, 2x4 direct tiles, 8x2x2 weight-gradient tiles',
    [1, 16, 20, 20],
    [16, 16, 3, 3],
    { padding: 1, stride: 2 },
    8,
    { tm: 8, tn: 8, wg: 16, directTr: 2, directTn: 4, wgTm: 8, wgTc: 2, wgPv: 2 },
    'gemm 8x8 wg16 sg8 | gemm 8x8 wg16 sg8 | wgrad 8x2x2 all wg16 sg8 splits3',
  ],
];

const plans = suite('conv2d tile plans (pinned)');
for (const [name, xs, ws, o, sg, tuning, want] of pins)
  plans(name, () => {
    E.setConvTuning(tuning);
    try {
      assert.is(describe(E.planConv2d(xs, ws, o, { subgroupSize: sg })), want);
    } finally {
      E.setConvTuning(null);
    }
  });
plans('an unbatched input plans as a batch of one', () => {
  assert.equal(
    E.planConv2d([16, 20, 20], [32, 16, 5, 5], { padding: 2 }, { subgroupSize: 8 }),
    E.planConv2d([1, 16, 20, 20], [32, 16, 5, 5], { padding: 2 }, { subgroupSize: 8 }),
  );
});
plans.run();

// The plan is what runs: the kernel keys conv2d dispatches (they name the tiles) on this device.
function expectedKeys(p: E.ConvPlan): string[] {
  if (p.kernel === 'matmul') return [];
  const f = (q: E.ConvForwardPlan) =>
    q.kernel === 'gemm'
      ? `conv2d.gemm:${q.tm}x${q.tn}:*:wg${q.wg}:*:sg${q.sg}:`
      : `conv2d.direct:${q.tr}x${q.tn}:*:wg${q.wg}:*${q.lead === null ? '' : `:raw${q.lead}`}`;
  const w = p.weightGrad;
  const wk =
    w.kernel === 'wgrad' ? `conv2d.wgrad:${w.tm}x${w.tc}x${w.pv}:*:wg${w.wg}:sg${w.sg}:${w.rowPerLane ? 'row' : 'all'}` : `conv2d.wgradDirect:*:wg${w.wg}`;
  return [f(p.forward), f(p.inputGrad), wk];
}
/** `pattern` with * for any run of characters, matched against the whole key. */
const matches = (key: string, pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  ).test(key);

const runs = suite('conv2d runs its plan');
runs.before(async () => {
  await E.initDevice();
});
const rcases: [string, number[], number[], E.Conv2dOptions, Partial<E.ConvTuning>?][] = [
  ['3x3 gemm, stride 2 (zero-inserted input gradient)', [2, 6, 10, 12], [8, 6, 3, 3], { padding: 1, stride: 2 }],
  ['depthwise, unpadded reads', [1, 4, 9, 12], [4, 1, 3, 3], { groups: 4, padding: 1 }],
  ['depthwise 7x7 plane (1x4 tiles)', [2, 4, 7, 7], [4, 1, 3, 3], { groups: 4, padding: 1 }],
  ['5x5, one kernel row per lane', [1, 4, 8, 8], [8, 4, 5, 5], { padding: 2 }],
  ['1x1 (the matmul kernel where the device has subgroups)', [1, 8, 4, 4], [8, 8, 1, 1], {}],
  ['1x1 through the gemm kernel (4 input channels per weight-gradient lane)', [1, 8, 4, 4], [8, 8, 1, 1], {}, { matmul1x1: false }],
  ['tuned tiles, no subgroups', [1, 8, 12, 12], [8, 8, 3, 3], { padding: 1 }, { tm: 8, tn: 8, wg: 16, wgTm: 8, wgTc: 2, wgPv: 2, subgroups: false }],
];
for (const [name, xs, ws, o, tuning] of rcases)
  runs(name, async () => {
    const keys: string[] = [];
    E.setConvTuning(tuning ?? null);
    setDispatchHook({ passFor: (k) => (keys.push(k.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
    try {
      const plan = E.planConv2d(xs, ws, o);
      await E.tidyAsync(async () => {
        const x = E.tensor(
          randomValues(
            xs.reduce((p, q) => p * q),
            1,
          ),
          { shape: xs },
        ).requiresGrad_();
        const w = E.tensor(
          randomValues(
            ws.reduce((p, q) => p * q),
            2,
          ),
          { shape: ws },
        ).requiresGrad_();
        const y = E.conv2d(x, w, null, o);
        // a dense output gradient (sum's own is a stride-0 view, which the plan does not assume)
        E.sum(E.mul(y, E.tensor(randomValues(y.size, 3), { shape: y.shape }))).backward();
        await w.grad!.data();
      });
      const conv = keys.filter((k) => /^conv2d\.(gemm|direct|wgrad)/.test(k));
      const want = expectedKeys(plan);
      assert.is(conv.length, want.length, `kernels ${conv.join(' ')} for plan ${describe(plan)}`);
      want.forEach((p, i) => assert.ok(matches(conv[i], p), `${conv[i]} is not ${p} (plan ${describe(plan)})`));
      if (plan.kernel === 'matmul')
        assert.ok(
          keys.some((k) => k.startsWith('matmul')),
          keys.join(' '),
        );
    } finally {
      setDispatchHook(null);
      E.setConvTuning(null);
    }
  });
runs.run();
