// The library a browser app builds on (scripts/build-app.mjs bundles it into dist-app/): the
// engine, backbones from weight bytes, GLASS (model, training steps, predict, metrics,
// thresholds), LAS with the built-in textures, synthetic samples, and checkpoints as bytes in the
// CLI's format (safetensors + ModelSpec metadata), so a model trained in the browser loads in
// `glass test` and the other way round. Every module here is host-neutral; the bundle check
// fails on any node: import or Node global that creeps in.
//
// The device: `await E.initDevice()` asks the host (engine/runtime/platform.ts) for WebGPU, which in a
// browser bundle is navigator.gpu (package.json's `browser` field swaps in platform-browser.ts).
// GLASS_* settings that Node reads from the environment are set with setEnv() here.
// Images: decode files with the browser's own decoders (createImageBitmap) and hand the RGBA
// pixels to imageFromRGBA; read them back through WebGPU (app/decode.ts), not a 2D canvas, which
// premultiplies where alpha < 255. The Node decoders (pngjs) need Node's zlib and streams.

// the engine, as the namespace the rest of the code base calls E; the host seam at top level too
export * as E from '../engine/index.ts';
export { env, setEnv, host, setHost, type Host, type GpuRequest, type KeyValueCache, type WaitHooks } from '../engine/runtime/platform.ts';

// backbones and weights
export type { Backbone } from '../models/backbone.ts';
export {
  BACKBONES,
  backboneFromBytes,
  backboneFromWeights,
  randomBackbone,
  readResnetWeights,
  readTfjsModel,
  resnetArch,
  type BackboneName,
  type BuildOptions,
} from '../models/backbones.ts';
export { ResNet, RESNET_CONFIGS, type WeightMap } from '../models/resnet.ts';
export { MobileNetV1 } from '../models/mobilenet.ts';
export { parseSafetensors, serializeSafetensors, type SafetensorsContent, type TensorInput } from '../models/io/safetensors.ts';
export { readTorch, readStateDict, flattenTensors, type TorchLoadOptions } from '../models/io/torch.ts';
export { parseTfjsLayersModel, type TfjsModel, type TfjsSource } from '../models/io/tfjs.ts';
export type { CpuTensor, DType as CpuDType } from '../models/io/types.ts';

// images, transforms, LAS, textures, synthetic samples
export * from '../data/pixels.ts';
export * from '../data/transforms.ts';
export * from '../data/las.ts';
export * from '../data/perlin.ts';
export { Rng, deriveSeed } from '../data/rng.ts';
export {
  builtinTexture,
  builtinTextureNames,
  builtinTextureName,
  isBuiltinTexture,
  BUILTIN_TEXTURE_COUNT,
  BUILTIN_TEXTURE_SIZE,
} from '../data/procedural-textures.ts';
export {
  renderSample,
  SYNTHETIC_CLASSES,
  DEFECT_TYPES,
  MASK_COVERAGE,
  type SyntheticClass,
  type DefectType,
  type SyntheticSample,
} from '../data/synthetic-render.ts';

// GLASS
export { Glass, DEFAULT_CONFIG, type GlassConfig, type IterationStats } from '../glass/glass.ts';
export { Projection, Discriminator } from '../glass/model.ts';
export * from '../glass/loop.ts';
export * from '../glass/checkpoint-bytes.ts';
export { glassConfigFromSpec, type ModelSpec } from '../glass/model-spec.ts';
export type { WeightsIdentity } from '../models/pretrained.ts';
export { rocAuc, averagePrecision, computePro, proCurve, type ProOptions, type ProCurve } from '../glass/metrics.ts';
export { gaussianFilter2d, rescaleSegmentation } from '../glass/gaussian.ts';
export { goodImageThreshold, bestF1Threshold, holdOutSplit, HOLDOUT_FRACTION, THRESHOLD_QUANTILE, type Threshold } from '../glass/threshold.ts';
export { jet, mapToOriginal, overlayScale, type InputGeometry } from '../glass/heatmap.ts';
export { resolveMode, lookupClass, type GasMode, type ResolvedMode } from '../glass/class-table.ts';
export { distributionJudge, meanImageToBgrU8, type JudgeOptions, type JudgeResult } from '../glass/distribution.ts';
