// Child-process check for data/loader.ts (run by test/data/loader.test.ts): closes a loader while a
// worker's reply is already queued but not yet handled, from a top-level await. Idle workers are
// unref'd, so a reply handled after close() must not unref the worker being terminated: if it did,
// nothing would keep the event loop alive and Node would end the process with code 13 (unsettled
// top-level await) before printing "closed".
import { AnomalyDataset } from '../../data/datasets.ts';
import { DataLoader } from '../../data/loader.ts';
import { makeTmpData } from '../data/tmpdata.ts';

const tmp = makeTmpData({ train: 6, size: 48 });
process.on('exit', () => tmp.cleanup());
const ds = AnomalyDataset.open({ kind: 'mvtec', root: tmp.root, className: 'button', split: 'test', resize: 40, imagesize: 32, warn: () => {} });
const dl = new DataLoader(ds, { batchSize: 2, workers: 1, prefetch: 2 });
const it = dl.epoch(0);
await it.next(); // batch 0 arrived; batch 1 is in flight
// Block this thread while the worker finishes batch 1: its reply waits in the port's queue.
const t0 = Date.now();
while (Date.now() - t0 < 1000);
await dl.close();
console.log('closed');
