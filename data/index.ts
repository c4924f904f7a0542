// Public API of the data pipeline (package export `glass-ts/data`): image decoding/encoding,
// transforms, datasets (MVTec, MPDD, VisA, plain folders), the worker-thread DataLoader, LAS
// anomaly synthesis with the built-in procedural textures, Perlin masks, the seeded RNG and the
// synthetic dataset generator.
// loader-worker.ts is not re-exported: it is a worker thread's entry, not a library module.
export * from './image.ts';
export * from './transforms.ts';
export * from './datasets.ts';
export * from './loader.ts';
export * from './las.ts';
export * from './perlin.ts';
export * from './rng.ts';
export * from './synthetic.ts';
export { builtinTexture, builtinTextureNames, isBuiltinTexture, BUILTIN_TEXTURE_COUNT, BUILTIN_TEXTURE_SIZE } from './procedural-textures.ts';
