// torch.optim for the engine: SGD, Adam, AdamW with torch 1.13's update rules, one fused WGSL
// kernel per parameter tensor per step; CosineAnnealingLR; AveragedModel (EMA / SWA weight
// averaging). Exported from engine/index.ts as `optim`.
export {
  Optimizer,
  type ParamGroup,
  type ParamGroupInput,
  type ParamsInput,
  type StateEntry,
  type OptimizerStateDict,
  type OptimizerStateDictInput,
} from './optimizer.ts';
export { SGD, type SGDOptions } from './sgd.ts';
export { Adam, AdamW, type AdamOptions } from './adam.ts';
export { CosineAnnealingLR } from './lr-scheduler.ts';
export { AveragedModel, type AveragedModelOptions, type AveragedModelStateDict } from './averaged-model.ts';
