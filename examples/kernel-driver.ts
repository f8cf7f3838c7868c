// A driver on a real device through /dev/vfio: QEMU's educational device
// "edu", bound to vfio-pci, driven from user space with the same EduDriver
// that drives the edu model over vfio-user.
//
// Run it on a machine (or VM) with QEMU's edu (`-device edu`), after binding it
// to vfio-pci and giving your user its group file (`sudo vfio-ts bind BDF
// --user $USER`; see docs/kernel.md):
//   node kernel-driver.js 0000:00:04.0
// It prints what it did and exits 0; exit 2 for a missing or malformed PCI
// address, 1 when the device cannot be opened or driven (the message says why).

import { openKernelDevice, VfioTsError } from 'vfio-ts';
import { EduDriver } from 'vfio-ts/drivers/edu';
import { normalizeBdf } from 'vfio-ts/kernel';

const arg = process.argv[2];
let bdf: string;
try {
  if (arg === undefined || process.argv.length > 3) throw new Error('expected one PCI address');
  bdf = normalizeBdf(arg);
} catch (err) {
  console.error(`kernel-driver: ${(err as Error).message}\nusage: node kernel-driver.js <PCI address of an edu, e.g. 0000:00:04.0>`);
  process.exit(2);
}

try {
  const edu = EduDriver.open(() => openKernelDevice(bdf));
  try {
    const { major, minor } = edu.version();
    console.log(`edu ${major}.${minor} at ${bdf}, alive: ${edu.isAlive()}`);
    edu.enableInterrupts('msi');
    // Real edu computes on a thread and runs DMA from a 100 ms timer: every step waits.
    console.log(`10! = ${await edu.factorialByInterrupt(10, { timeoutMs: 10_000 })} (completed by MSI)`);
    const data = new TextEncoder().encode('hello through the IOMMU and back');
    const back = await edu.roundTrip(data, { interrupt: true, timeoutMs: 10_000 });
    console.log(`DMA round trip of ${data.length} bytes: ${new TextDecoder().decode(back)}`);
  } finally {
    edu.close();
  }
} catch (err) {
  const hint = err instanceof VfioTsError && 'hint' in err && typeof err.hint === 'string' ? `\n  hint: ${err.hint}` : '';
  console.error(`kernel-driver: ${bdf}: ${(err as Error).message}${hint}`);
  process.exit(1);
}
console.log('ok');
