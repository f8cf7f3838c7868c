// A tiny PCI device written from scratch with DeviceModel: "the doubler".
// It is the model module examples/custom-device.ts serves in a worker thread
// (its default export is the factory serveInWorker calls).
//
// BAR0 (4 KiB of 32-bit MMIO, little-endian registers, 4-byte accesses):
//   0x00 RO  identification 0xd0b1e001
//   0x04 RW  scratch: reads back what was written
//   0x08 WO  doorbell: writing n stores 2*n in the result and raises MSI vector 0
//   0x0c RO  result
// Other offsets and widths read as zeros and drop writes.

import type { BarHandler, DeviceModel, ModelDevice } from 'vfio-ts/server';

export const DOUBLER_ID = 0xd0b1e001;

export class Doubler implements DeviceModel {
  readonly config = {
    vendorId: 0x1234,
    deviceId: 0xd0b1,
    classCode: 0xff0000,
    bars: [{ kind: 'mem32', size: 4096 }],
    capabilities: [{ id: 'msi', vectors: 1 }],
  } satisfies DeviceModel['config'];
  readonly bars: Record<number, BarHandler>;
  #device: ModelDevice | undefined;
  #scratch = 0;
  #result = 0;

  constructor() {
    this.bars = {
      0: {
        read: (offset, dst) => {
          dst.fill(0);
          if (dst.length !== 4) return;
          const value = offset === 0x00 ? DOUBLER_ID : offset === 0x04 ? this.#scratch : offset === 0x0c ? this.#result : 0;
          new DataView(dst.buffer, dst.byteOffset, 4).setUint32(0, value, true);
        },
        write: (offset, src) => {
          if (src.length !== 4) return;
          const value = new DataView(src.buffer, src.byteOffset, 4).getUint32(0, true);
          if (offset === 0x04) this.#scratch = value;
          if (offset === 0x08) {
            this.#result = (value * 2) >>> 0;
            this.#device?.irq.msi(0); // delivered if the driver enabled MSI (and has not masked it)
          }
        },
      },
    };
  }

  attach(device: ModelDevice): void {
    this.#device = device;
  }

  reset(): void {
    this.#scratch = 0;
    this.#result = 0;
  }
}

export default (): Doubler => new Doubler();
