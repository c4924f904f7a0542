// Prints the WebGPU adapter Dawn finds (exit 0), or why none was found (exit 1).
// Used by scripts/setup.sh to decide whether a Vulkan driver must be installed.
import { create, globals } from 'webgpu';
process.env.XDG_RUNTIME_DIR ??= '/tmp';
Object.assign(globalThis, globals);
let gpu = create([]);
try {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('requestAdapter returned null');
  const i = adapter.info;
  const device = await adapter.requestDevice();
  device.destroy();
  console.log(`adapter: ${i.description || i.device || '?'} (vendor ${i.vendor || '?'}, architecture ${i.architecture || '?'})`);
  process.exitCode = 0;
} catch (err) {
  console.log(`no usable WebGPU adapter: ${err.message ?? err}`);
  process.exitCode = 1;
} finally {
  gpu = null;
}
