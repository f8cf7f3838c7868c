// A BAR access the device refuses reaches the driver as EIO (all the wire and
// the kernel carry), with the reason config space shows: decode off, D3hot.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import type { Device } from '../../src/client/device.js';
import { ErrnoError } from '../../src/errors.js';
import { PCI_CAP_ID_PM, PCI_CAPABILITY_LIST, PCI_COMMAND, PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_PM_CTRL } from '../../src/pci/regs.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';

const FIXTURE = 'test/server/fixtures/test-device.js';

function pmCap(dev: Device): number {
  for (let at = dev.config.read8(PCI_CAPABILITY_LIST) & 0xfc, n = 0; at !== 0 && n < 48; n++) {
    if (dev.config.read8(at) === PCI_CAP_ID_PM) return at;
    at = dev.config.read8(at + 1) & 0xfc;
  }
  throw new Error('test device has no PM capability');
}

function refusal(fn: () => unknown): ErrnoError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ErrnoError, String(err));
    return err;
  }
  assert.fail('the access was not refused');
}

describe('refused BAR accesses say why', () => {
  let srv: ChildServer;
  let dev: Device;

  before(async () => {
    srv = await startChildServer(FIXTURE, 'TestDevice');
    dev = connectVfioUser(srv.path, { map: false });
  });
  after(async () => {
    dev?.close();
    await srv?.stop();
  });

  test('memory decode off: EIO naming the BAR and COMMAND.MEM', () => {
    dev.config.write16(PCI_COMMAND, dev.config.read16(PCI_COMMAND) & ~(PCI_COMMAND_MEMORY | PCI_COMMAND_IO));
    const read = refusal(() => dev.bar(0).read32(0));
    assert.equal(read.code, 'EIO');
    assert.match(read.message, /BAR0 access while memory decode is off \(COMMAND\.MEM = 0/);
    const write = refusal(() => dev.bar(2).write(0, new Uint8Array(16)));
    assert.match(write.message, /BAR2 access while memory decode is off/);
  });

  test('I/O decode off: the I/O BAR names COMMAND.IO', () => {
    dev.config.write16(PCI_COMMAND, (dev.config.read16(PCI_COMMAND) | PCI_COMMAND_MEMORY) & ~PCI_COMMAND_IO);
    assert.equal(dev.bar(0).read32(0) >= 0, true); // memory decode is back on
    const err = refusal(() => dev.bar(5).read8(0));
    assert.match(err.message, /BAR5 access while I\/O decode is off \(COMMAND\.IO = 0/);
  });

  test('D3hot with decode on: the reason names the power state', () => {
    dev.config.write16(PCI_COMMAND, dev.config.read16(PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    const pm = pmCap(dev);
    dev.config.write16(pm + PCI_PM_CTRL, 3);
    try {
      const err = refusal(() => dev.bar(0).write32(0, 1));
      assert.equal(err.code, 'EIO');
      assert.match(err.message, /BAR0 access while the function is in D3hot/);
    } finally {
      dev.config.write16(pm + PCI_PM_CTRL, 0);
    }
    dev.bar(0).write32(0, 1); // D0 again: accepted
  });
});
