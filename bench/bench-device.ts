// The device the socket benchmarks talk to: as little model as possible, so
// the figures measure the transport (client, protocol, server), not a device.
//
// BAR0 (4 KiB): plain registers (reads return what was written), plus the DMA
//   benchmark: 0x10 IOVA (u64), 0x18 length (u32), 0x1c iterations (u32);
//   writing 0x20 runs it: the model reads `length` bytes from the client's
//   fd-backed DMA map into its own buffer `iterations` times (dma.readSync:
//   the map lookup and checks, then a copy from the mapped memory), then copies its own buffer as often (the memcpy baseline, in
//   the same process); 0x28 / 0x30 hold the two times in ns (u64).
// BAR2 (2 MiB): plain memory behind the handler, for 4 KiB and 1 MiB reads and
//   writes through messages.

import type { DeviceDecl } from '../src/pci/index.js';
import type { VirtualDevice } from '../src/server/device.js';
import type { BarHandler, DeviceModel } from '../src/server/model.js';

const BAR2_SIZE = 2 * 1024 * 1024;

export class BenchDevice implements DeviceModel {
  readonly config: DeviceDecl = {
    vendorId: 0x1de5,
    deviceId: 0xbe9c,
    classCode: 0xff0000,
    bars: [{ kind: 'mem32', size: 4096 }, undefined, { kind: 'mem32', size: BAR2_SIZE }],
    capabilities: [{ id: 'msi', vectors: 1 }],
  };
  readonly regs = new Uint8Array(4096);
  readonly mem = new Uint8Array(BAR2_SIZE);
  readonly bars: Record<number, BarHandler>;
  #device!: VirtualDevice;

  constructor() {
    const regs = this.regs;
    const view = new DataView(regs.buffer);
    this.bars = {
      0: {
        read: (offset, dst) => dst.set(regs.subarray(offset, offset + dst.length)),
        write: (offset, src) => {
          regs.set(src, offset);
          if (offset === 0x20) this.#dmaBench(view);
        },
      },
      2: {
        read: (offset, dst) => dst.set(this.mem.subarray(offset, offset + dst.length)),
        write: (offset, src) => this.mem.set(src, offset),
      },
    };
  }

  attach(device: VirtualDevice): void {
    this.#device = device;
  }

  #dmaBench(view: DataView): void {
    const iova = view.getBigUint64(0x10, true);
    const length = view.getUint32(0x18, true);
    const iterations = view.getUint32(0x1c, true);
    const local = new Uint8Array(length);
    const other = new Uint8Array(length);
    const dma = this.#device.dma;
    let t = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) dma.readSync(iova, local);
    view.setBigUint64(0x28, process.hrtime.bigint() - t, true);
    t = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) local.set(other);
    view.setBigUint64(0x30, process.hrtime.bigint() - t, true);
  }

  reset(): void {
    this.regs.fill(0);
  }
}
