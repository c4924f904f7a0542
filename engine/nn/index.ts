// torch.nn for the engine: Module (parameters, buffers, children, train/eval, state dicts with
// PyTorch key names), layers and initialisers. Exported from engine/index.ts as `nn`.
export { Module, fromHost, hostToTyped, type HostTensor, type StateDict, type StateDictInput, type StateValue, type LoadResult } from './module.ts';
export {
  Linear,
  Conv2d,
  BatchNorm1d,
  BatchNorm2d,
  ReLU,
  LeakyReLU,
  Sigmoid,
  Sequential,
  type Conv2dModuleOptions,
  type BatchNormModuleOptions,
} from './layers.ts';
export * as init from './init.ts';
export { Conv3d, MaxPool3d, AvgPool3d, type Conv3dModuleOptions, type MaxPool3dModuleOptions, type AvgPool3dModuleOptions } from './layers3d.ts';
export { LayerNorm, GroupNorm, GELU, type LayerNormModuleOptions, type GroupNormModuleOptions } from './norm-layers.ts';
