// One import for the weight readers/writers: `import { loadStateDict, readSafetensors } from './models/io/index.ts'`.
export * from './types.ts';
export { ZipArchive, crc32, looksLikeZip, type ZipEntry } from './zip.ts';
export { PyFunction, Unpickler, unpickle, pyAttributes, type UnpickleOptions } from './pickle.ts';
export { flattenTensors, loadStateDict, loadTorch, readTorch, TORCH_STORAGE_DTYPES, type TorchLoadOptions } from './torch.ts';
export {
  parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors,
  type SafetensorsContent, type TensorInput,
} from './safetensors.ts';
export { getTfjsLayer, loadTfjsLayersModel, type TfjsLayer, type TfjsMissing, type TfjsModel, type TfjsWeightSpec } from './tfjs.ts';
export { writeFileAtomic, tempPathFor } from './atomic.ts';
