// Public API of the method (package export `glass-ts/glass`): the Glass model, the trainer
// (train / predict / evaluate one class), checkpoints, and the helpers a caller needs around them
// (mode resolution, the distribution judge, metrics, thresholds, segmentation post-processing,
// heatmaps, the model spec stored in checkpoints).
// The CLI (cli.ts) is not re-exported: it runs its main when the process's script is named cli*,
// and the package exposes it as the `glass-ts` bin instead.
export * from './glass.ts';
export * from './trainer.ts';
export * from './checkpoint.ts';
export { Projection, Discriminator } from './model.ts';
export { PRESETS, type Preset } from './options.ts';
export {
  resolveMode,
  lookupClass,
  parseDistributionCsv,
  DATASET_CLASSES,
  REFERENCE_TABLE,
  type GasMode,
  type TableEntry,
  type DistributionTable,
  type DistributionFlag,
  type ResolveModeInput,
  type ResolvedMode,
} from './class-table.ts';
export { distributionJudge, meanImageToBgrU8, type JudgeOptions, type JudgeResult } from './distribution.ts';
export { rocAuc, averagePrecision, computePro, proCurve, type ProOptions, type ProCurve } from './metrics.ts';
export { rescaleSegmentation, gaussianFilter2d } from './gaussian.ts';
export { writeVisuals, writeOverlays } from './visualize.ts';
export { jet, mapToOriginal, overlayScale, type InputGeometry } from './heatmap.ts';
export { goodImageThreshold, bestF1Threshold, THRESHOLD_QUANTILE, type Threshold } from './threshold.ts';
export { glassConfigFromSpec, type ModelSpec } from './model-spec.ts';
