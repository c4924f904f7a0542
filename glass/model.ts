// GLASS's trainable heads with the reference's module and state_dict names (model.py):
//   Projection:    layers.0fc (Linear D->D, bias)  [pre_proj = 1; more layers have no activation]
//   Discriminator: body.block{i} = Linear + BatchNorm1d + LeakyReLU(0.2) for i < dsc_layers,
//                  tail = Linear(hidden, 1, bias=False) + Sigmoid
// init_weight: xavier-normal Linear weights; biases keep torch's default uniform init;
// BatchNorm1d stays at weight 1, bias 0 (the reference only re-initialises BatchNorm2d).
import * as E from '../engine/index.ts';
import { batchNorm1dWithContext, type BnPartials } from './fused-batchnorm.ts';

const { Module, Linear, BatchNorm1d, LeakyReLU, Sigmoid, Sequential } = E.nn;

/** A container whose children keep the names they are given (torch's add_module). */
class Named extends Module {
  readonly order: E.nn.Module[] = [];
  add(name: string, m: E.nn.Module): this {
    this.registerModule(name, m);
    this.order.push(m);
    return this;
  }
  forward(x: E.Tensor): E.Tensor {
    let y = x;
    for (const m of this.order) y = m.forward(y);
    return y;
  }
}

function xavierLinears(m: E.nn.Module): void {
  for (const [name, p] of m.namedParameters()) if (name.endsWith('weight') && p.rank === 2) E.nn.init.xavierNormal(p);
}

export class Projection extends Module {
  readonly layers: Named;
  constructor(inDim: number, outDim: number, nLayers = 1) {
    super();
    this.layers = this.registerModule('layers', new Named());
    for (let i = 0; i < nLayers; i++) this.layers.add(`${i}fc`, new Linear(i === 0 ? inDim : outDim, outDim));
    xavierLinears(this);
  }
  forward(x: E.Tensor): E.Tensor {
    return this.layers.forward(x);
  }
}

export class Discriminator extends Module {
  readonly body: Named;
  readonly tail: E.nn.Sequential;
  constructor(inDim: number, nLayers = 2, hidden = 1024) {
    super();
    this.body = this.registerModule('body', new Named());
    let d = inDim;
    for (let i = 0; i < nLayers - 1; i++) {
      this.body.add(`block${i + 1}`, new Sequential(new Linear(d, hidden), new BatchNorm1d(hidden), new LeakyReLU(0.2)));
      d = hidden;
    }
    this.tail = this.registerModule('tail', new Sequential(new Linear(d, 1, false), new Sigmoid()));
    xavierLinears(this);
  }
  forward(x: E.Tensor): E.Tensor {
    return this.tail.forward(this.body.forward(x));
  }

  /** The first Linear's weight [hidden, inDim]. */
  firstLinearWeight(): E.Tensor {
    return (this.firstBlock().at(0) as E.nn.Linear).weight;
  }

  /** The first Linear alone (row-wise, so it can run on parts of a batch separately). */
  firstLinear(x: E.Tensor): E.Tensor {
    return this.firstBlock().at(0).forward(x);
  }

  /**
   * forward(cat(parts)) given the first Linear already applied to each part: identical maths
   * (a Linear acts on rows independently; BatchNorm then sees the whole batch), but a part
   * that does not change between calls (GLASS's true features during gradient ascent) is
   * multiplied once, and gradients flow only into the parts that need them.
   */
  forwardFromFirstLinear(h: E.Tensor): E.Tensor {
    let y = this.firstBlock().forwardFrom(1, h);
    const rest = this.body.order.slice(1);
    for (const m of rest) y = m.forward(y);
    return this.tail.forward(y);
  }

  /**
   * The scores of the rows of `h` in forward(cat([true, fake])), given the first Linear applied to
   * each part (hTrue, h): BatchNorm takes its statistics (and running update) over both parts, but
   * only h's rows are normalised, scored and differentiated. With one hidden block the true rows'
   * scores feed nothing else, so this is the whole of what GLASS's gradient ascent needs.
   * `hTrue` may be given as its batchNormPartials, computed once for all the ascent steps.
   */
  scoresWithContext(hTrue: E.Tensor | BnPartials, h: E.Tensor): E.Tensor {
    const block = this.firstBlock();
    if (this.body.order.length !== 1) throw new Error('Discriminator.scoresWithContext: needs exactly one hidden block (dsc_layers 2)');
    const [, bn, act] = block.layers;
    if (block.layers.length !== 3 || !(bn instanceof E.nn.BatchNorm1d) || !(act instanceof E.nn.LeakyReLU))
      throw new Error('Discriminator.scoresWithContext: expected the block Linear, BatchNorm1d, LeakyReLU');
    // the tail's Linear(H, 1) runs inside the BatchNorm op (glass/fused-batchnorm.ts): its input
    // gradient, an outer product, never becomes an [N, H] tensor (same values and gradients)
    const [lin, sig] = this.tail.layers;
    if (this.tail.layers.length !== 2 || !(lin instanceof E.nn.Linear) || lin.outFeatures !== 1 || !(sig instanceof E.nn.Sigmoid))
      throw new Error('Discriminator.scoresWithContext: expected the tail Linear(H, 1), Sigmoid');
    return sig.forward(batchNorm1dWithContext(bn, h, { statsWith: hTrue, negativeSlope: act.negativeSlope, head: { weight: lin.weight, bias: lin.bias } }));
  }

  private firstBlock(): E.nn.Sequential {
    const b = this.body.child('block1');
    if (!b) throw new Error('Discriminator: no hidden block (dsc_layers must be >= 2 to split the first Linear)');
    return b as E.nn.Sequential;
  }
}
