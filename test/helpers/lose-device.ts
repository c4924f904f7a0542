// Child process for device.test.ts: loses the device mid-run (destroy() stands in for a driver
// reset), then uses the engine again. Prints the error it got and exits on its own.
import * as E from '../../engine/index.ts';
import { device } from '../../engine/runtime/device.ts';

await E.initDevice();
const a = E.ones([64]);
await a.data();
device().destroy();
await new Promise((r) => setTimeout(r, 200)); // let the lost promise settle
try {
  await E.add(a, 1).data();
  console.log('NO ERROR');
} catch (err) {
  console.log(`ERROR: ${(err as Error).message}`);
}
