// Batched data loader: index order (seeded shuffle, batch size, dropLast), batch assembly into flat
// Float32Array tensors ([B,3,H,W] images, [B,fh,fw] / [B,H,W] masks), and prefetching with decoding +
// augmentation in worker_threads so the CPU work overlaps the GPU's. Results do not depend on the
// number of workers: every item draws from its own Rng seeded by (seed, epoch, index), and batches are
// handed out in order whatever order the workers finish in.
// Workers run data/loader-worker.ts through data/worker-boot.mjs, which registers tsx's loader in the
// worker first: Node 20 workers do not inherit the parent's tsx hooks, so `new Worker('x.ts')` fails
// with "Unknown file extension" even under `tsx` or `node --import tsx`.
import { Worker } from 'node:worker_threads';
import type { AnomalyDataset, DatasetSpec, TestItem, TrainItem } from './datasets.ts';
import { Rng, deriveSeed } from './rng.ts';

export interface TrainBatch {
  split: 'train';
  epoch: number;
  indices: number[];
  paths: string[];
  /** [B, 3, H, W] */
  images: Float32Array;
  /** LAS images [B, 3, H, W], masks [B, fh, fw] and [B, H, W], blend weights [B]; null without LAS */
  augs: Float32Array | null;
  masksS: Float32Array | null;
  masksL: Float32Array | null;
  betas: Float32Array | null;
  /** [B, 3, H, W] */
  shape: [number, number, number, number];
  featShape: [number, number];
}

export interface TestBatch {
  split: 'test';
  epoch: number;
  indices: number[];
  paths: string[];
  images: Float32Array;
  /** 0 normal, 1 anomalous */
  labels: Uint8Array;
  defects: string[];
  /** ground truth [B, H, W] */
  masks: Float32Array;
  shape: [number, number, number, number];
}

export type Batch = TrainBatch | TestBatch;

export interface LoaderOptions {
  batchSize?: number;
  /** default: on for training, off for test (as the reference's DataLoaders) */
  shuffle?: boolean;
  dropLast?: boolean;
  seed?: number;
  /** worker threads; 0 decodes in the calling thread */
  workers?: number;
  /** batches requested ahead of the consumer (default 2 per worker) */
  prefetch?: number;
}

/** Key mixed into the shuffle seed so it never collides with an item stream (item keys are indices >= 0). */
const SHUFFLE_KEY = -1 >>> 0;

/** Builds one batch from dataset items (used by the loader in-thread and by the workers). */
export function collate(ds: AnomalyDataset, indices: number[], seed: number, epoch: number): Batch {
  const B = indices.length;
  const [C, H, W] = ds.imageShape;
  const per = C * H * W,
    hw = H * W;
  const images = new Float32Array(B * per);
  const paths: string[] = [];
  if (ds.split === 'test') {
    const labels = new Uint8Array(B),
      masks = new Float32Array(B * hw),
      defects: string[] = [];
    indices.forEach((idx, b) => {
      const it = ds.item(idx, seed, epoch) as TestItem;
      images.set(it.image, b * per);
      masks.set(it.mask, b * hw);
      labels[b] = it.label;
      defects.push(it.defect);
      paths.push(it.path);
    });
    return { split: 'test', epoch, indices, paths, images, labels, defects, masks, shape: [B, C, H, W] };
  }
  const [fh, fw] = ds.featShape;
  let augs: Float32Array | null = null,
    masksS: Float32Array | null = null,
    masksL: Float32Array | null = null,
    betas: Float32Array | null = null;
  indices.forEach((idx, b) => {
    const it = ds.item(idx, seed, epoch) as TrainItem;
    images.set(it.image, b * per);
    paths.push(it.path);
    if (it.aug && it.maskS && it.maskL) {
      augs ??= new Float32Array(B * per);
      masksS ??= new Float32Array(B * fh * fw);
      masksL ??= new Float32Array(B * hw);
      betas ??= new Float32Array(B);
      augs.set(it.aug, b * per);
      masksS.set(it.maskS, b * fh * fw);
      masksL.set(it.maskL, b * hw);
      betas[b] = it.beta ?? 0;
    }
  });
  return { split: 'train', epoch, indices, paths, images, augs, masksS, masksL, betas, shape: [B, C, H, W], featShape: [fh, fw] };
}

/** The typed arrays of a batch, for zero-copy transfer between threads. */
export function batchBuffers(b: Batch): ArrayBuffer[] {
  const arrs = b.split === 'test' ? [b.images, b.labels, b.masks] : [b.images, b.augs, b.masksS, b.masksL, b.betas];
  return arrs.filter((a): a is NonNullable<typeof a> => a !== null).map((a) => a.buffer as ArrayBuffer);
}

interface Pending {
  resolve: (b: Batch) => void;
  reject: (e: Error) => void;
  worker: WorkerSlot;
}

interface WorkerSlot {
  worker: Worker;
  inFlight: number;
  dead: Error | null;
}

export class DataLoader {
  readonly dataset: AnomalyDataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  readonly workers: number;
  readonly prefetch: number;
  private pool: WorkerSlot[] | null = null;
  private pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(dataset: AnomalyDataset, opts: LoaderOptions = {}) {
    this.dataset = dataset;
    this.batchSize = opts.batchSize ?? 8;
    if (!(Number.isInteger(this.batchSize) && this.batchSize > 0)) throw new Error(`DataLoader: batch size must be a positive integer, got ${opts.batchSize}`);
    this.shuffle = opts.shuffle ?? dataset.split === 'train';
    this.dropLast = opts.dropLast ?? false;
    this.seed = opts.seed ?? 0;
    this.workers = Math.max(0, Math.floor(opts.workers ?? 0));
    this.prefetch = Math.max(1, opts.prefetch ?? 2 * Math.max(1, this.workers));
    if (dataset.length === 0) throw new Error('DataLoader: dataset is empty');
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The item order of an epoch (a seeded permutation when shuffling). */
  order(epoch: number): number[] {
    const n = this.dataset.length;
    return this.shuffle ? new Rng(deriveSeed(this.seed, epoch, SHUFFLE_KEY)).permutation(n) : Array.from({ length: n }, (_, i) => i);
  }

  /** Item indices of each batch of an epoch. */
  batches(epoch: number): number[][] {
    const order = this.order(epoch);
    const out: number[][] = [];
    for (let i = 0; i < this.length; i++) out.push(order.slice(i * this.batchSize, (i + 1) * this.batchSize));
    return out;
  }

  /** Iterates the batches of one epoch, in order, prefetching up to `prefetch` ahead. */
  async *epoch(epoch = 0): AsyncGenerator<Batch, void, undefined> {
    const plan = this.batches(epoch);
    if (this.workers === 0) {
      for (const idx of plan) yield collate(this.dataset, idx, this.seed, epoch);
      return;
    }
    this.startPool();
    const queue: Promise<Batch>[] = [];
    let next = 0;
    const fill = () => {
      while (next < plan.length && queue.length < this.prefetch) {
        const p = this.submit(plan[next++]!, epoch);
        p.catch(() => {}); // rejections are reported when the batch is awaited
        queue.push(p);
      }
    };
    fill();
    while (queue.length) {
      const b = await queue.shift()!;
      fill();
      yield b;
    }
  }

  /** Stops the worker threads (a later epoch() starts new ones). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (!pool) return;
    for (const p of this.pending.values()) p.reject(new Error('DataLoader closed'));
    this.pending.clear();
    // An idle worker is unref'd, and an unref'd worker's terminate() does not keep the event loop
    // alive: awaiting it from a top-level await could end the process (exit 13) before 'exit' fires.
    // onReply leaves workers of a closed pool ref'd, so a reply still in flight cannot undo this.
    for (const s of pool) s.worker.ref();
    await Promise.all(pool.map((s) => s.worker.terminate()));
  }

  private startPool(): void {
    if (this.pool) return;
    const spec: DatasetSpec = this.dataset.spec();
    const boot = new URL('./worker-boot.mjs', import.meta.url);
    const entry = new URL('./loader-worker.ts', import.meta.url).href;
    this.pool = [];
    for (let i = 0; i < this.workers; i++) {
      // workers inherit execArgv; --input-type (node -e scripts) is refused for a file entry
      const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
      const worker = new Worker(boot, { workerData: { entry, spec, seed: this.seed }, execArgv });
      const slot: WorkerSlot = { worker, inFlight: 0, dead: null };
      worker.unref(); // an idle loader must not keep the process alive
      worker.on('message', (msg: WorkerReply) => this.onReply(slot, msg));
      const fail = (err: Error) => {
        slot.dead = err;
        for (const [id, p] of this.pending) {
          if (p.worker === slot) {
            this.pending.delete(id);
            p.reject(err);
          }
        }
      };
      worker.on('error', (err) => fail(new Error(`DataLoader worker ${i}: ${err.message}`)));
      worker.on('exit', (code) => {
        if (!slot.dead && this.pool) fail(new Error(`DataLoader worker ${i} exited with code ${code}`));
      });
      this.pool.push(slot);
    }
  }

  private submit(indices: number[], epoch: number): Promise<Batch> {
    const live = this.pool!.filter((s) => !s.dead);
    if (!live.length) return Promise.reject(this.pool![0]?.dead ?? new Error('DataLoader: no workers'));
    const slot = live.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    const id = this.nextId++;
    return new Promise<Batch>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: slot });
      if (slot.inFlight++ === 0) slot.worker.ref();
      slot.worker.postMessage({ id, epoch, indices } satisfies WorkerTask);
    });
  }

  private onReply(slot: WorkerSlot, msg: WorkerReply): void {
    if (--slot.inFlight === 0 && this.pool?.includes(slot)) slot.worker.unref();
    const p = this.pending.get(msg.id);
    if (!p) return; // the epoch was abandoned; drop the result
    this.pending.delete(msg.id);
    if (msg.error !== undefined) p.reject(new Error(msg.error));
    else p.resolve(msg.batch!);
  }
}

export interface WorkerTask {
  id: number;
  epoch: number;
  indices: number[];
}

export interface WorkerReply {
  id: number;
  batch?: Batch;
  error?: string;
}
