// Learning-rate schedules, like torch.optim.lr_scheduler: a scheduler owns the `lr` of every
// parameter group of one optimizer and sets it on each `step()` (call it once per epoch, after the
// epoch's optimizer steps, as in PyTorch). Only the closed forms are computed, so a scheduler made
// for a resumed run (`lastEpoch`) sets exactly the rate an uninterrupted run would have.
import type { Optimizer } from './optimizer.ts';

type WithLr = { lr: number };

/** torch.optim.lr_scheduler.CosineAnnealingLR: lr = etaMin + (base - etaMin) (1 + cos(pi e / tMax)) / 2. */
export class CosineAnnealingLR {
  readonly baseLrs: number[];
  readonly tMax: number;
  readonly etaMin: number;
  /** Epochs stepped so far (torch's last_epoch; 0 after construction). */
  lastEpoch: number;

  constructor(
    readonly optimizer: Optimizer<WithLr>,
    opts: {
      tMax: number;
      etaMin?: number;
      /** epochs already trained (a resumed run); the groups get that epoch's rate now */
      lastEpoch?: number;
      /** the rates the schedule starts from, per group (torch's initial_lr); default: the groups' rates now */
      baseLrs?: number[];
    },
  ) {
    const { tMax, etaMin = 0, lastEpoch = 0 } = opts;
    if (!(Number.isInteger(tMax) && tMax >= 1)) throw new Error(`CosineAnnealingLR: tMax must be an integer >= 1, got ${tMax}`);
    if (!(Number.isFinite(etaMin) && etaMin >= 0)) throw new Error(`CosineAnnealingLR: etaMin must be a finite number >= 0, got ${etaMin}`);
    if (!(Number.isInteger(lastEpoch) && lastEpoch >= 0)) throw new Error(`CosineAnnealingLR: lastEpoch must be an integer >= 0, got ${lastEpoch}`);
    this.tMax = tMax;
    this.etaMin = etaMin;
    // a resumed optimizer's groups hold the decayed rate of their last epoch, not the start's
    this.baseLrs = opts.baseLrs ? [...opts.baseLrs] : optimizer.paramGroups.map((g) => g.lr);
    if (this.baseLrs.length !== optimizer.paramGroups.length)
      throw new Error(`CosineAnnealingLR: ${this.baseLrs.length} base rates for ${optimizer.paramGroups.length} parameter groups`);
    this.lastEpoch = lastEpoch;
    this.apply();
  }

  /** The rate of group `i` at epoch `epoch`. */
  lrAt(epoch: number, i = 0): number {
    return this.etaMin + ((this.baseLrs[i] - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }

  /** Advances one epoch and sets each group's rate. */
  step(): void {
    this.lastEpoch++;
    this.apply();
  }

  /** The rates set by the last step (torch's get_last_lr()). */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): { T_max: number; eta_min: number; base_lrs: number[]; last_epoch: number } {
    return { T_max: this.tMax, eta_min: this.etaMin, base_lrs: [...this.baseLrs], last_epoch: this.lastEpoch };
  }

  private apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.lrAt(this.lastEpoch, i)));
  }
}
