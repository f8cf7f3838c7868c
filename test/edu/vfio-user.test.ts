// The edu driver suite against our edu model (src/devices/edu.ts) served over
// vfio-user by a child process: once with DMA memory shared by file
// descriptor (the server copies directly), once without (every DMA travels as
// DMA_READ / DMA_WRITE messages back to the client). Then what only a model
// can show over the wire: a DMA the client did not map is reported by the
// server and the device lives on.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import { EduDriver, EDU_DMA_LIMIT } from '../../src/drivers/edu/index.js';
import { eduDriverSuite } from './edu-driver.suite.js';
import { serveEduInChild, type ChildServer } from './serve-child.js';

let srv: ChildServer | undefined;
let srvMessages: ChildServer | undefined;
before(async () => {
  srv = await serveEduInChild();
  // Completion 2 ms after the start rather than on the next turn of the
  // loop: the vfio-user client leaves a server request that arrives in the
  // same read as the reply it waited for unserved until its next request
  // (src/client/vfio-user.ts #roundTrip; reported), so a DMA_READ sent right
  // after the REGION_WRITE that started it could wait for the time-out.
  srvMessages = await serveEduInChild({ completion: 2 });
});
after(async () => {
  await srv?.close();
  await srvMessages?.close();
});

eduDriverSuite('edu model over vfio-user', () => connectVfioUser(srv!.path));
eduDriverSuite('edu model over vfio-user, DMA by messages', () => connectVfioUser(srvMessages!.path, { dmaFds: false }));

test("edu model over vfio-user: a DMA outside the client's maps is reported by the server, which lives on", async () => {
  const edu = EduDriver.open(() => connectVfioUser(srv!.path));
  try {
    const bar = edu.device.bar(0);
    const before = srv!.warnings.length;
    bar.write32(0x80, 0x0ff00000); // below 2^28, never mapped
    bar.write32(0x88, 0x40000);
    bar.write32(0x90, 64);
    bar.write32(0x98, 0x1);
    const w = await srv!.waitWarning('edu-dma-failed');
    assert.match(w.message, /0xff00000/);
    for (let i = 0; bar.read32(0x98) & 1; i++) {
      assert.ok(i < 1000, 'the transfer completes');
      await sleep(1);
    }
    assert.ok(srv!.warnings.length > before);
    // Beyond the mask: clamped, as QEMU does.
    const buf = edu.device.allocDma(4096, { limit: EDU_DMA_LIMIT });
    try {
      buf.bytes.fill(0x77);
      bar.write64(0x80, buf.iova | (1n << 28n));
      bar.write32(0x88, 0x40000);
      bar.write32(0x90, 16);
      bar.write32(0x98, 0x1);
      await srv!.waitWarning('edu-dma-clamped');
      const back = edu.device.allocDma(4096, { limit: EDU_DMA_LIMIT });
      await edu.dmaFromDevice(back, 16);
      assert.ok(
        back.bytes.subarray(0, 16).every((b) => b === 0x77),
        'the clamped address was read',
      );
      back.free();
    } finally {
      buf.free();
    }
    assert.equal(edu.isAlive(), true);
    assert.equal(await edu.factorial(5), 120);
  } finally {
    edu.close();
  }
});
