// Low power through the kernel backend (VFIO_DEVICE_FEATURE LOW_POWER_*,
// Linux 6.0+; the guest runs 6.1) on QEMU's nvme: suspend() and resume(),
// with and without a wakeup eventfd; the device answers again afterwards,
// through its mapped BAR0 too. On vfio-user the same call is a clear refusal.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openKernelDevice } from './vfio-api.js';
import { NVME, guestTest } from './helpers.js';

const CAP = 0x00; // NVMe CAP register (64-bit), stable across power states
const VS = 0x08;

function runtimeStatus(): string {
  try {
    return readFileSync(`/sys/bus/pci/devices/${NVME}/power/runtime_status`, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

guestTest(
  'power: nvme suspend() and resume() through VFIO low-power entry/exit; registers answer again, mapped too',
  { root: false },
  async (t) => {
    const dev = openKernelDevice(NVME);
    try {
      dev.config.write16(4, dev.config.read16(4) | 0x2);
      const bar0 = dev.bar(0);
      const cap = bar0.read64(CAP);
      const vs = bar0.read32(VS);
      assert.equal(bar0.mapped, true);
      dev.suspend();
      assert.equal(dev.suspended, true);
      assert.equal(bar0.mapped, false, 'mapped regions are unmapped while suspended');
      t.diagnostic(`runtime_status while suspended: ${runtimeStatus()}`);
      assert.throws(() => dev.suspend(), { code: 'EALREADY' });
      dev.resume();
      assert.equal(dev.suspended, false);
      assert.equal(bar0.mapped, true, 'mapped again after resume');
      assert.equal(bar0.read64(CAP), cap);
      assert.equal(bar0.read32(VS), vs);
      assert.throws(() => dev.resume(), { code: 'EALREADY' });

      dev.suspend({ wakeup: true });
      t.diagnostic(`runtime_status with a wakeup eventfd: ${runtimeStatus()}`);
      dev.resume();
      assert.equal(bar0.read32(VS), vs);
    } finally {
      dev.close();
    }
  },
);
