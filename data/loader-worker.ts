// Worker thread of the DataLoader (started through worker-boot.mjs): rebuilds the dataset from the
// spec it is given, then builds whole batches on request and sends them back with their buffers
// transferred, not copied.
import { parentPort, workerData } from 'node:worker_threads';
import { AnomalyDataset, type DatasetSpec } from './datasets.ts';
import { batchBuffers, collate, type WorkerReply, type WorkerTask } from './loader.ts';

const { spec, seed } = workerData as { spec: DatasetSpec; seed: number };
const ds = AnomalyDataset.fromSpec(spec);
const port = parentPort!;

port.on('message', (task: WorkerTask) => {
  let reply: WorkerReply;
  try {
    const batch = collate(ds, task.indices, seed, task.epoch);
    port.postMessage({ id: task.id, batch } satisfies WorkerReply, batchBuffers(batch));
    return;
  } catch (err) {
    reply = { id: task.id, error: (err as Error).message };
  }
  port.postMessage(reply);
});
