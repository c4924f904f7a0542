// Public API of the engine: device, tensors, memory scopes, autograd and ops.
import './ops/methods.ts';

export { initDevice, configureDevice, releaseDevice, deviceInfo, describeDevice, hasFeature, type DeviceOptions } from './device.ts';
export { Tensor } from './tensor.ts';
export type { DType } from './dtype.ts';
export { tidy, tidyAsync, keep, memoryStats } from './memory.ts';
export { trimPool } from './pool.ts';
export { flush, sync, runtimeStats, setMaxBatch } from './runtime.ts';
export { backward, grad, noGrad, isGradEnabled, record } from './autograd/graph.ts';
export * from './ops/creation.ts';
export * from './ops/unary.ts';
export * from './ops/binary.ts';
export * from './ops/reduce.ts';
export * from './ops/views.ts';
export * from './ops/matmul.ts';
export * from './ops/conv.ts';
export * from './ops/pool.ts';
export * from './ops/interpolate.ts';
export * from './ops/unfold.ts';
export * from './ops/concat.ts';
export * from './ops/index-ops.ts';
export * from './ops/mask.ts';
export * from './ops/sort.ts';
export * from './ops/softmax.ts';
export * from './ops/losses.ts';
export * from './ops/batchnorm.ts';
export * as nn from './nn/index.ts';
export * as optim from './optim/index.ts';
