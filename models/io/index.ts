// One import for the weight readers/writers: `import { loadStateDict, readSafetensors } from './models/io/index.ts'`.
export * from './types.ts';
export { ZipArchive, crc32, looksLikeZip, type ZipEntry, type ZipOptions } from './zip.ts';
export { DEFAULT_MAX_DEPTH, PyFunction, Unpickler, unpickle, pyAttributes, type UnpickleOptions } from './pickle.ts';
export { flattenTensors, loadStateDict, loadTorch, readTorch, TORCH_STORAGE_DTYPES, type TorchLoadOptions } from './torch.ts';
export {
  parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors,
  type SafetensorsContent, type SafetensorsReadOptions, type TensorInput,
} from './safetensors.ts';
export { getTfjsLayer, loadTfjsLayersModel, type TfjsLayer, type TfjsMissing, type TfjsModel, type TfjsWeightSpec } from './tfjs.ts';
export { writeFileAtomic, tempPathFor, removeStaleTemps, STALE_TEMP_AGE_MS } from './atomic.ts';
export {
  ByteBudget, DEFAULT_MAX_WEIGHTS_BYTES, WEIGHTS_BYTES_ENV, maxWeightsBytes, parseByteCount,
} from './limits.ts';
