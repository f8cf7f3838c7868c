// Our NVMe driver against our NVMe model over vfio-user: the same driver
// that runs against QEMU's nvme in the guest (test/guest/nvme-driver.test.ts).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Device } from '../../src/client/device.js';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import { NvmeDriver, type NvmeNamespace } from '../../src/drivers/nvme/index.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';

const MODEL = 'src/devices/nvme/index.js';
const BLOCKS = 16384; // 8 MiB of 512-byte blocks

function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

for (const interrupts of ['none', 'msix'] as const) {
  describe(`NVMe driver against the NVMe model (completion: ${interrupts === 'none' ? 'polled' : 'MSI-X'})`, () => {
    let srv: ChildServer;
    let dev: Device;
    let ctrl: NvmeDriver;
    let ns: NvmeNamespace;

    before(async () => {
      srv = await startChildServer(MODEL, 'NvmeModel', {
        model: { serial: 'vfiots-model-01', model: 'vfio-ts NVMe model', namespaces: [{ size: BLOCKS * 512 }] },
      });
      dev = connectVfioUser(srv.path);
      ctrl = await NvmeDriver.open(dev, { interrupts, ioQueues: 2 });
      ns = await ctrl.namespace(1);
    });
    after(async () => {
      try {
        await ctrl?.shutdown();
      } finally {
        dev?.close();
        await srv?.stop();
      }
    });

    test('bring-up and identify', () => {
      assert.equal(ctrl.identity.serial, 'vfiots-model-01');
      assert.equal(ctrl.identity.model, 'vfio-ts NVMe model');
      assert.equal(ns.blockSize, 512);
      assert.equal(ns.blocks, BLOCKS);
      assert.equal(dev.bar(0).mapped, true, 'doorbells are rung through mapped memory');
    });

    test('write then read back: one block, a PRP-list transfer, a transfer split into several commands', async () => {
      for (const [lba, blocks] of [
        [0, 1],
        [1000, 128],
        [4000, 2048],
      ] as const) {
        const data = pattern(blocks * 512, lba + 1);
        await ns.write(lba, data);
        assert.deepEqual(await ns.read(lba, blocks), data, `${blocks} blocks at ${lba}`);
      }
      await ns.flush();
    });

    test('write zeroes and deallocate read back as zeroes', async () => {
      await ns.write(200, pattern(16 * 512, 9));
      await ns.writeZeroes(200, 8);
      await ns.deallocate([{ lba: 208, blocks: 8 }]);
      assert.deepEqual(await ns.read(200, 16), new Uint8Array(16 * 512));
    });

    test('errors come back as NVMe statuses: LBA out of range, bad queue id', async () => {
      await assert.rejects(ns.read(BLOCKS - 1, 2), { code: 'NVME_LBA_OUT_OF_RANGE' });
      await assert.rejects(ctrl.admin.deleteIoSq(0x999), { code: 'NVME_INVALID_QUEUE_ID' });
    });

    test('the polled fast path at queue depth 32', () => {
      const io = ns.polled();
      const seen = new Set<number>();
      io.onComplete = (slot, status) => {
        assert.equal(status, 0);
        seen.add(slot);
      };
      let submitted = 0;
      let done = 0;
      while (done < 512) {
        while (submitted - done < 32 && submitted < 512 && io.submitRead((submitted * 8) % (BLOCKS - 8), 8, false) >= 0) submitted++;
        io.ring();
        done += io.poll();
      }
      assert.equal(io.drain(5000), 0);
      assert.ok(seen.size >= 2);
    });
  });
}
