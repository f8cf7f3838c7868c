// A client that keeps edu's DMA engine busy through a broker until it is
// killed: argv[2] is the broker's socket. Prints {"step":"running"} once the first
// round trip came back.

import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import { EduDriver } from '../../src/drivers/edu/index.js';

const edu = EduDriver.open(() => connectVfioUser(process.argv[2]!));
const data = new Uint8Array(2048).map((_, i) => (i * 7) & 0xff);
let announced = false;
for (;;) {
  const back = await edu.roundTrip(data);
  if (back[100] !== data[100]) throw new Error('DMA returned other bytes');
  if (!announced) {
    announced = true;
    process.stdout.write(`${JSON.stringify({ step: 'running' })}\n`);
  }
}
