// The PCI-like view: a driver ported from bare metal keeps programming its
// device through config space. Here it enables MSI by writing the MSI
// capability (address, data, then Enable), makes the edu device raise an
// interrupt, and sees it come back as the message it programmed. The device
// is the edu model, served over vfio-user from a worker thread.
//
// Run it (from a project that depends on vfio-ts, after compiling with tsc):
//   node pci-like.js
// It prints what it did and exits 0.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectVfioUser } from 'vfio-ts';
import { PciLikeDevice } from 'vfio-ts/pci-like';
import { serveInWorker } from 'vfio-ts/server';

const PCI_COMMAND = 0x04;
const PCI_CAP_ID_MSI = 0x05;
const EDU_IRQ_STATUS = 0x24;
const EDU_IRQ_RAISE = 0x60;
const EDU_IRQ_ACK = 0x64;

const dir = mkdtempSync(join(tmpdir(), 'pci-like-'));
const socket = join(dir, 'edu.sock');
const served = await serveInWorker('vfio-ts/devices/edu', { socket, export: 'EduModel' });
try {
  const pci = PciLikeDevice.attach(connectVfioUser(socket));
  try {
    pci.config.write16(PCI_COMMAND, pci.config.read16(PCI_COMMAND) | 0x6); // memory decode + bus master (an MSI is a write)
    const msi = pci.findCapability(PCI_CAP_ID_MSI);
    if (msi === undefined) throw new Error('the device has no MSI capability');
    const control = pci.config.read16(msi + 2);
    const is64 = (control & 0x80) !== 0;
    pci.config.write32(msi + 4, 0xfee00000); // message address (low)
    if (is64) pci.config.write32(msi + 8, 0); // (high)
    pci.config.write16(msi + (is64 ? 12 : 8), 0x41); // message data
    pci.config.write16(msi + 2, control | 1); // Enable: SET_IRQS with an eventfd underneath
    console.log(`MSI capability at 0x${msi.toString(16)} enabled, mode ${pci.interruptMode}`);

    const bar0 = pci.bar(0);
    const interrupt = pci.waitInterrupt(0, 5000);
    bar0.write32(EDU_IRQ_RAISE, 0x1);
    const { kind, vector, address, data } = await interrupt;
    console.log(`interrupt: ${kind} vector ${vector}, address 0x${address?.toString(16)}, data 0x${data?.toString(16)}`);
    console.log(`status 0x${bar0.read32(EDU_IRQ_STATUS).toString(16)}`);
    bar0.write32(EDU_IRQ_ACK, 0x1);
    console.log(`acknowledged, status 0x${bar0.read32(EDU_IRQ_STATUS).toString(16)}`);
  } finally {
    pci.close();
  }
} finally {
  await served.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log('ok');
