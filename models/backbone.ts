// The backbone contract GLASS uses, and the registry by name (`wideresnet50`, `resnet18`,
// `resnet50`, `mobilenet_v1`). A backbone is frozen: eval-mode BatchNorm, no gradients. It maps
// a normalised NCHW batch to named taps and stops computing after the last requested one.
import type { Tensor } from '../engine/index.ts';

export interface Backbone {
  readonly name: string;
  /** Tap names in network order. */
  readonly tapNames: readonly string[];
  /** Taps GLASS uses when the user names none. */
  readonly defaultTaps: readonly string[];
  /** Per-channel normalisation applied to [0,1] RGB input before forward(). */
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  /** Feature stride (input pixels per feature cell) and channels of each tap. */
  tapInfo(tap: string): { stride: number; channels: number };
  /** Runs the network up to the last of `taps`; returns each requested tap. */
  forward(x: Tensor, taps: readonly string[]): Map<string, Tensor>;
  dispose(): void;
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** Checks requested taps and returns the index of the last one in network order. */
export function lastTapIndex(b: { name: string; tapNames: readonly string[] }, taps: readonly string[]): number {
  if (taps.length === 0) throw new Error(`${b.name}: no taps requested (available: ${b.tapNames.join(', ')})`);
  let last = -1;
  for (const t of taps) {
    const i = b.tapNames.indexOf(t);
    if (i < 0) throw new Error(`${b.name}: unknown tap '${t}' (available: ${b.tapNames.join(', ')})`);
    last = Math.max(last, i);
  }
  return last;
}
