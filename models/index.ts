// Public API of the backbones (package export `glass-ts/models`): the registry that builds a
// backbone by name, the networks themselves, pretrained weights (the torchvision weight cache and
// pretrainedBackbone), and the weight-file readers/writers as the `io` namespace.
export * from './registry.ts';
export * from './backbone.ts';
export { ResNet, RESNET_CONFIGS, resnetKeys, type ResNetConfig, type ResNetOptions, type WeightMap } from './resnet.ts';
export { MobileNetV1, MOBILENET_BLOCKS, type MobileNetOptions } from './mobilenet.ts';
export * from './weights-cache.ts';
export * as io from './io/index.ts';
export { pretrainedBackbone, describeWeights, type PretrainedOptions, type PretrainedResult, type WeightsIdentity } from './pretrained.ts';
