// A device written from scratch (examples/doubler-model.ts: a BAR with a few
// registers and an MSI), served over vfio-user from a worker thread, and a
// driver for it on the main thread that programs it and waits for its
// interrupt.
//
// Run it (from a project that depends on vfio-ts, after compiling with tsc):
//   node custom-device.js
// It prints what it did and exits 0.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectVfioUser } from 'vfio-ts';
import { serveInWorker } from 'vfio-ts/server';

const PCI_COMMAND = 0x04;
const PCI_COMMAND_MEMORY = 0x2;

const dir = mkdtempSync(join(tmpdir(), 'doubler-'));
const socket = join(dir, 'doubler.sock');
const served = await serveInWorker(new URL('./doubler-model.js', import.meta.url), { socket });
try {
  const dev = connectVfioUser(socket);
  try {
    console.log(`device ${dev.config.read16(0).toString(16)}:${dev.config.read16(2).toString(16)}`);
    dev.config.write16(PCI_COMMAND, dev.config.read16(PCI_COMMAND) | PCI_COMMAND_MEMORY); // BAR access needs memory decode
    const bar0 = dev.bar(0);
    console.log(`id 0x${bar0.read32(0x00).toString(16)}`);
    bar0.write32(0x04, 0xcafe);
    console.log(`scratch 0x${bar0.read32(0x04).toString(16)}`);

    dev.enableInterrupts('msi', 1);
    const interrupt = dev.waitInterrupt(0, 5000); // listen before ringing
    bar0.write32(0x08, 21);
    await interrupt;
    console.log(`doorbell 21 -> interrupt, result ${bar0.read32(0x0c)}`);
  } finally {
    dev.close();
  }
} finally {
  await served.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log('ok');
