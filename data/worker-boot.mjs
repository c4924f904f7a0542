// Plain-JS entry of the loader's worker threads: Node 20 workers do not inherit the parent's tsx
// loader hooks, so they are registered here before the TypeScript worker module is imported.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
