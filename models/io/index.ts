// One import for the weight readers/writers: `import { loadStateDict, readSafetensors } from './models/io/index.ts'`.
// Node: it includes the path-based ones (files.ts, atomic.ts); a browser build imports the format modules.
export * from './types.ts';
export { ZipArchive, crc32, looksLikeZip, type ZipEntry, type ZipOptions } from './zip.ts';
export { inflateRawJs } from './inflate.ts';
export { DEFAULT_MAX_DEPTH, PyFunction, Unpickler, unpickle, pyAttributes, type UnpickleOptions } from './pickle.ts';
export { flattenTensors, readStateDict, readTorch, TORCH_STORAGE_DTYPES, type TorchLoadOptions } from './torch.ts';
export { parseSafetensors, serializeSafetensors, type SafetensorsContent, type SafetensorsReadOptions, type TensorInput } from './safetensors.ts';
export { getTfjsLayer, parseTfjsLayersModel, type TfjsLayer, type TfjsMissing, type TfjsModel, type TfjsSource, type TfjsWeightSpec } from './tfjs.ts';
export { loadStateDict, loadTorch, loadTfjsLayersModel, openZip, readSafetensors, writeSafetensors } from './files.ts';
export { writeFileAtomic, tempPathFor, removeStaleTemps, STALE_TEMP_AGE_MS } from './atomic.ts';
export { ByteBudget, DEFAULT_MAX_WEIGHTS_BYTES, WEIGHTS_BYTES_ENV, maxWeightsBytes, parseByteCount } from './limits.ts';
