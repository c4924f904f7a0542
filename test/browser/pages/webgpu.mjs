// WebGPU in the page, without the engine: adapter, device and three small compute shaders
// (y = 2x + 1, a square matmul, a subgroupAdd where the adapter has subgroups). Plain JS, served
// as is, so what runs is what a browser loads. test/browser/webgpu.test.ts calls
// globalThis.webgpuCheck(input) and compares the results with values computed in Node.

async function run(device, code, buffers, outIndex, workgroups) {
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) throw new Error(`WGSL: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`);
  const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const gpuBuffers = buffers.map((b) => {
    const buf = device.createBuffer({ size: b.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buf, 0, b);
    return buf;
  });
  const out = gpuBuffers[outIndex];
  const read = device.createBuffer({ size: out.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: gpuBuffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(...workgroups);
  pass.end();
  enc.copyBufferToBuffer(out, 0, read, 0, out.size);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const bytes = read.getMappedRange().slice(0);
  read.unmap();
  for (const b of [...gpuBuffers, read]) b.destroy();
  return bytes;
}

const AXPB = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < arrayLength(&x)) { y[g.x] = 2.0 * x[g.x] + 1.0; }
}`;

const matmul = (n) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let n = ${n}u;
  if (g.x >= n || g.y >= n) { return; }
  var acc = 0.0;
  for (var k = 0u; k < n; k++) { acc += a[g.y * n + k] * b[k * n + g.x]; }
  c[g.y * n + g.x] = acc;
}`;

// Per invocation: subgroupAdd(1) (= the subgroup's size), subgroup_size, and subgroupAdd(v[i]).
const SUBGROUPS = /* wgsl */ `
enable subgroups;
@group(0) @binding(0) var<storage, read> v: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(subgroup_size) size: u32) {
  let i = g.x;
  out[3u * i] = subgroupAdd(1u);
  out[3u * i + 1u] = size;
  out[3u * i + 2u] = subgroupAdd(v[i]);
}`;

globalThis.webgpuCheck = async ({ x, a, b, n, v }) => {
  const t0 = performance.now();
  if (!navigator.gpu) throw new Error(`no navigator.gpu (secure context: ${isSecureContext})`);
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null');
  const features = [...adapter.features].sort();
  const sg = adapter.features.has('subgroups');
  const device = await adapter.requestDevice({ requiredFeatures: sg ? ['subgroups'] : [] });
  const lost = [];
  device.lost.then((l) => lost.push(`${l.reason}: ${l.message}`));
  const uncaptured = [];
  device.addEventListener('uncapturederror', (e) => uncaptured.push(e.error.message));
  const i = adapter.info;
  const info = {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    subgroupMinSize: i.subgroupMinSize,
    subgroupMaxSize: i.subgroupMaxSize,
    isFallbackAdapter: i.isFallbackAdapter,
  };
  const limits = {
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
    maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
  };
  const t1 = performance.now();
  const y = new Float32Array(await run(device, AXPB, [new Float32Array(x), new Float32Array(x.length)], 1, [Math.ceil(x.length / 64)]));
  const c = new Float32Array(await run(device, matmul(n), [new Float32Array(a), new Float32Array(b), new Float32Array(n * n)], 2, [n / 8, n / 8]));
  const s = sg ? new Uint32Array(await run(device, SUBGROUPS, [new Uint32Array(v), new Uint32Array(3 * v.length)], 1, [v.length / 64])) : null;
  const t2 = performance.now();
  device.destroy();
  return {
    info,
    features,
    limits,
    userAgent: navigator.userAgent,
    y: [...y],
    c: [...c],
    subgroups: s && [...s],
    lost,
    uncaptured,
    ms: { adapterAndDevice: t1 - t0, shaders: t2 - t1 },
  };
};
