// The engine's public API for custom kernels: what an application needs to write its own WGSL
// compute kernels (fused, method-specific ones) and run them on engine tensors, batched with the
// engine's own dispatches. The engine's ops are built on exactly this; nothing here is internal.
//
//   const P = paramStruct('ScaleParams', { n: 'u32', k: 'f32' });
//   const scale: Kernel = { name: 'my.scale', key: 'my.scale', code: () => `${P.decl}
//   ${storage(1, 'x', 'f32')} ${storage(2, 'out', 'f32', true)}
//   ${main1d()} if (gi >= ${P.at.n}) { return; } out[gi] = x[gi] * ${P.at.k}; }` };
//   const out = Tensor.empty(x.shape, 'f32');
//   dispatch(scale, [x.storage.buffer, out.storage.buffer], P.pack({ n: x.size, k: 2 }), grid1d(x.size));
//
// Bindings: 0 is the parameter struct (when the kernel has parameters), storage buffers follow
// from 1 in the order of the buffer list; tensors are bound whole, so kernels add the tensor's
// `offset` (in elements) themselves. Record a backward for the result with `record` (index.ts).
export { dispatch, dispatchHooked, type Kernel, type Work } from './runtime/dispatch.ts';
export { paramStruct, ParamStruct, MAX_PARAM_WORDS, type ParamFields, type ParamType, type ParamValues, type ParamRefs } from './wgsl/params.ts';
export { WG, grid1d, main1d, storage, C4, UDIVF, isNan, activate, storeRows } from './wgsl/common.ts';
