// A driver for QEMU's educational device "edu" (and for our model of it,
// src/devices/edu.ts), written on the Driver API only: it works on any Device,
// whether the kernel's vfio-pci carries it (openKernelDevice) or a vfio-user
// socket (connectVfioUser). It is the worked example of the driver guide
// (docs/edu.md).
//
// The device's registers are in src/hw/edu.ts (shared with the model).
//
// Only 4-byte (and, from 0x80, 8-byte) aligned accesses reach the registers.
// The DMA engine copies between RAM (an IOVA) and edu's 4 KiB buffer, which is
// at 0x40000 in edu's own address space; edu masks RAM addresses to 28 bits,
// so every DMA buffer must sit below 2^28 (allocDma's `limit`). An MSI is a
// memory write by the device, and DMA needs bus mastering: the driver turns on
// memory decoding and bus mastering in the command register when it attaches.
//
// What this driver does not hide: completion is asynchronous on real edu (a
// thread computes factorials, a 100 ms timer runs DMA), so every operation
// waits, either by polling the status or for an interrupt.

import type { Device, InterruptKind } from '../../client/device.js';
import type { DmaBuffer } from '../../client/dma.js';
import { fail } from '../../errors.js';
import { EDU_BUFFER_ADDR, EDU_BUFFER_SIZE, EDU_DMA_LIMIT } from '../../hw/edu.js';
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_DEVICE_ID, PCI_VENDOR_ID } from '../../pci/regs.js';
import { hex } from '../../util/format.js';
import { checkEduIds, EduDriverBase, type EduWaitOptions } from './engine.js';

/** Where an edu DMA transfer reads and writes, and how it completes. */
export interface EduDmaOptions extends EduWaitOptions {
  /** Offset in the DmaBuffer (default 0). */
  bufferOffset?: number;
  /** Offset in edu's 4 KiB buffer (default 0). */
  eduOffset?: number;
}

/** A driver for QEMU's edu (and our model of it) on the Driver API: factorials polled or by interrupt, DMA, interrupts, reset (docs/edu.md). */
export class EduDriver extends EduDriverBase {
  readonly device: Device;
  #irq: 'intx' | 'msi' | null = null;
  #closed = false;

  /** Attaches to `device`: checks it is an edu, enables memory decoding and bus mastering. */
  constructor(device: Device) {
    checkEduIds(device.config.read16(PCI_VENDOR_ID), device.config.read16(PCI_DEVICE_ID));
    super(device.bar(0));
    this.device = device;
    this.#enableDevice();
    this.checkIdentification();
  }

  /** The same as `new EduDriver(device)`. */
  static attach(device: Device): EduDriver {
    return new EduDriver(device);
  }

  /** Opens a device with `open` (e.g. `() => openKernelDevice(bdf)`) and attaches; the device is closed if attaching fails. */
  static open(open: () => Device): EduDriver {
    const dev = open();
    try {
      return new EduDriver(dev);
    } catch (err) {
      dev.close();
      throw err;
    }
  }

  #enableDevice(): void {
    const cmd = this.device.config.read16(PCI_COMMAND);
    this.device.config.write16(PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  }

  // ------------------------------------------------------------ interrupts

  /** Enables INTx or MSI (edu has one vector of each; no MSI-X). */
  enableInterrupts(kind: Extract<InterruptKind, 'intx' | 'msi'>): void {
    this.live();
    if (kind !== 'intx' && kind !== 'msi') throw fail('EINVAL', `edu interrupts are INTx or MSI, not ${String(kind)}`);
    this.device.enableInterrupts(kind, 1);
    this.#irq = kind;
  }

  disableInterrupts(): void {
    if (this.#irq === null) return;
    this.#irq = null;
    this.device.disableInterrupts();
  }

  // ------------------------------------------------------------ DMA

  /** Copies `count` bytes of `buf` into edu's buffer (RAM -> edu). */
  async dmaToDevice(buf: DmaBuffer, count: number, options: EduDmaOptions & { interrupt?: boolean } = {}): Promise<void> {
    const { ram, edu } = this.#dmaArgs(buf, count, options);
    await this.#dma(ram, edu, count, false, options);
  }

  /** Copies `count` bytes of edu's buffer into `buf` (edu -> RAM). */
  async dmaFromDevice(buf: DmaBuffer, count: number, options: EduDmaOptions & { interrupt?: boolean } = {}): Promise<void> {
    const { ram, edu } = this.#dmaArgs(buf, count, options);
    await this.#dma(edu, ram, count, true, options);
  }

  #dmaArgs(buf: DmaBuffer, count: number, o: EduDmaOptions): { ram: bigint; edu: number } {
    const bo = o.bufferOffset ?? 0;
    const eo = o.eduOffset ?? 0;
    if (!Number.isSafeInteger(count) || count <= 0) throw fail('EINVAL', `DMA count must be a positive integer, got ${count}`);
    if (!Number.isSafeInteger(bo) || bo < 0 || bo + count > buf.size)
      throw fail('EINVAL', `DMA of ${count} bytes at ${bo} leaves the ${buf.size}-byte buffer`);
    if (!Number.isSafeInteger(eo) || eo < 0 || eo + count > EDU_BUFFER_SIZE)
      throw fail('EINVAL', `DMA of ${count} bytes at ${eo} leaves edu's ${EDU_BUFFER_SIZE}-byte buffer`);
    const ram = buf.iova + BigInt(bo);
    if (ram + BigInt(count) > EDU_DMA_LIMIT) {
      throw fail('EINVAL', `IOVA ${hex(ram)} is beyond edu's 28-bit DMA mask: allocate with { limit: EDU_DMA_LIMIT }`);
    }
    return { ram, edu: EDU_BUFFER_ADDR + eo };
  }

  async #dma(
    src: bigint | number,
    dst: bigint | number,
    count: number,
    toRam: boolean,
    o: EduWaitOptions & { interrupt?: boolean },
  ): Promise<void> {
    return this.dma(src, dst, count, toRam, o.interrupt ?? this.#irq !== null, o);
  }

  /**
   * A round trip through edu's buffer: `data` goes from a DMA buffer into
   * edu and comes back into another one. Returns what came back.
   */
  async roundTrip(data: Uint8Array, options: EduDmaOptions & { interrupt?: boolean } = {}): Promise<Uint8Array> {
    const out = this.device.allocDma(data.length, { limit: EDU_DMA_LIMIT, access: { read: true, write: false } });
    const back = this.device.allocDma(data.length, { limit: EDU_DMA_LIMIT });
    try {
      out.bytes.set(data);
      await this.dmaToDevice(out, data.length, options);
      await this.dmaFromDevice(back, data.length, options);
      return back.bytes.slice(0, data.length);
    } finally {
      out.free();
      back.free();
    }
  }

  // ------------------------------------------------------------ reset, close

  /** Whether the device can be reset (QEMU's edu cannot: no FLR, no PM; our model can). */
  get canReset(): boolean {
    return this.device.info.reset;
  }

  /** Resets the device (ENOTSUP when it cannot be) and enables it again. Interrupts are left disabled. */
  reset(): void {
    this.live();
    this.#irq = null;
    this.device.reset();
    this.#enableDevice();
  }

  /** Stops interrupts, clears bus mastering, closes the device. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (!this.device.closed) {
        this.disableInterrupts();
        const cmd = this.device.config.read16(PCI_COMMAND);
        this.device.config.write16(PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
      }
    } finally {
      this.device.close();
    }
  }

  // ------------------------------------------------------------ the base class's hooks

  protected live(): void {
    if (this.#closed) throw fail('ENODEV', 'edu: the driver is closed');
  }

  protected needInterrupts(): void {
    this.live();
    if (this.#irq === null) throw fail('EINVAL', 'edu: enable interrupts first (enableInterrupts("intx" | "msi"))');
  }

  protected async nextInterrupt(timeoutMs: number): Promise<void> {
    await this.device.waitInterrupt(0, timeoutMs);
  }

  /** INTx is masked by the kernel when it fires: unmask once the device dropped the line. */
  protected interruptHandled(): void {
    if (this.#irq === 'intx') this.device.unmaskIntx();
  }
}
