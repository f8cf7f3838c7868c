/**
 * A device model compatible with QEMU's educational device "edu": the same IDs,
 * config space, registers, factorial unit, DMA engine and interrupts (docs/edu.md).
 *
 * @module vfio-ts/devices/edu
 */

// A device model compatible with QEMU's educational device "edu"
// (QEMU's hw/misc/edu.c and docs/specs/edu.rst): the same IDs, config space,
// registers, factorial unit, DMA engine and interrupts, so a driver written
// against one works on the other (test/edu/ runs one driver suite on both).
//
// Config space: vendor 0x1234, device 0x11e8, revision 0x10, class 0x00ff
// ("other"), subsystem 1af4:1100 (QEMU's default), INTx pin A, BAR0 1 MiB of
// 32-bit non-prefetchable MMIO, an MSI capability at 0x40 (1 vector, 64-bit
// address, no per-vector mask: QEMU's msi_init(pdev, 0, 1, true, false)).
//
// BAR0 registers (little-endian):
//   0x00 RO  identification 0x010000ed (major 1, minor 0, 0xed)
//   0x04 RW  liveness: reads the bitwise NOT of the last value written
//   0x08 RW  factorial: a write starts computing n! (mod 2^32) unless a
//            computation is running (then ignored); reads give the result
//   0x20 RW  status: 0x01 computing (RO), 0x80 raise interrupt 0x001 when
//            the factorial is done (RW)
//   0x24 RO  interrupt status (bits raised and not yet acknowledged)
//   0x60 WO  interrupt raise: status |= value
//   0x64 WO  interrupt acknowledge: status &= ~value
//   0x80 RW  DMA source address (64-bit)
//   0x88 RW  DMA destination address (64-bit)
//   0x90 RW  DMA count (64-bit)
//   0x98 RW  DMA command: 0x1 start (reads 1 while the transfer runs),
//            0x2 direction (0: RAM -> edu, 1: edu -> RAM), 0x4 raise
//            interrupt 0x100 when done
//   The DMA buffer (4 KiB) lives at 0x40000 in edu's own address space: the
//   edu-side address of a transfer must lie inside it. It is not reachable
//   through BAR0 (QEMU does not expose it either).
//
// Access rules, as QEMU answers them (checked against QEMU 7.2 in the guest,
// test/guest/edu-driver.test.ts): an access is first cut into the widest
// naturally aligned pieces of at most 8 bytes (QEMU's TCG does that to an
// unaligned load or store: an 8-byte read at 0x04 is a 4-byte read of 0x04
// and one of 0x08; we do the same for a REGION_READ/WRITE of any length).
// A piece reaches the registers only when it is 4 or 8 bytes wide (edu's
// MemoryRegionOps: valid sizes 4..8): a 1- or 2-byte piece reads as 0 and its
// write is dropped (QEMU's unassigned_mem_read/write). Below 0x80 only 4-byte
// pieces are registers (an 8-byte read there gives all ones, an 8-byte write
// is dropped); from 0x80 4- and 8-byte pieces are (a 4-byte write replaces
// the whole 64-bit DMA register with the zero-extended value; 0x84, 0x8c, ...
// are no registers). Reading an offset that is no register gives all ones.
//
// Interrupts (edu_raise_irq / edu_lower_irq): raising ORs bits into the
// interrupt status; then, if it is non-zero, MSI vector 0 is signalled when
// the client enabled MSI, else INTx is asserted. Acknowledging clears bits;
// INTx is deasserted when the status becomes 0 (INTx is a level: it stays
// asserted while any bit is set, and the framework redelivers on unmask).
//
// DMA (edu_dma_timer): the RAM-side address is clamped to the DMA mask
// (default 28 bits): QEMU ANDs it with the mask (and logs "clamping DMA"),
// so a driver must use IOVAs below 2^28; we do the same and emit a warning
// ('edu-dma-clamped'). The edu-side range must lie in [0x40000, 0x41000):
// QEMU 7.2 kills itself with hw_error otherwise (and wrongly refuses a
// transfer that ends exactly at 0x41000); later QEMUs log the error and copy
// anyway, past the buffer. We refuse such a transfer: nothing moves and a
// warning ('edu-dma-range') is emitted. A RAM side that the client has not
// mapped (or not for that direction) fails in the framework before any byte
// moves (DmaError): a warning ('edu-dma-failed') again. In every case the
// transfer completes as QEMU's does: the start bit clears and, if asked,
// interrupt 0x100 is raised. The last failure is kept in `lastDmaError`.
// While a transfer runs, writes to the DMA registers are ignored.
//
// Timing: QEMU computes factorials on a thread and runs DMA from a timer
// 100 ms after the start, so drivers must poll the status (or wait for the
// interrupt). Here both complete on the next turn of the event loop
// (setImmediate, the default), synchronously inside the write ('sync'), or
// after a delay in ms; polling the status bit works in every case.
//
// Reset: QEMU's edu has no reset handler (and the kernel offers no reset for
// it). The framework's resets (DEVICE_RESET, the owner leaving) bring this
// model back to power-on: registers zero, buffer zeroed, pending work
// cancelled.

import {
  EDU_BAR0_SIZE,
  EDU_BUFFER_ADDR,
  EDU_BUFFER_SIZE,
  EDU_CLASS,
  EDU_DEVICE_ID,
  EDU_DMA_MASK,
  EDU_DMA_RUN,
  EDU_DMA_TO_RAM,
  EDU_DMA_WITH_IRQ,
  EDU_ID_VALUE,
  EDU_IRQ_DMA,
  EDU_IRQ_FACTORIAL,
  EDU_REVISION,
  EDU_STATUS_COMPUTING,
  EDU_STATUS_IRQFACT,
  EDU_VENDOR_ID,
  EduReg,
} from '../hw/edu.js';
import type { DeviceDecl } from '../pci/index.js';
import type { BarHandler, DeviceModel, ResetReason } from '../server/model.js';
import type { VirtualDevice } from '../server/device.js';
import { hex } from '../util/format.js';

// The device's facts, for users of this entry point.
export * from '../hw/edu.js';

const ONES64 = (1n << 64n) - 1n;
const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** How an {@link EduModel} behaves where QEMU's fixes it: completion timing, DMA mask. */
export interface EduOptions {
  /** When factorials and DMA complete: 'immediate' (setImmediate, default), 'sync' (inside the write) or a delay in ms. */
  completion?: 'immediate' | 'sync' | number;
  /** DMA address mask of the RAM side (default 2^28 - 1, QEMU's). */
  dmaMask?: bigint;
}

/** Why the last DMA transfer failed. */
export interface EduDmaFailure {
  /** 'range': the edu side left the 4 KiB buffer; 'dma': the framework refused the RAM side (see `error`). */
  kind: 'range' | 'dma';
  message: string;
  error?: unknown;
}

/** n! modulo 2^32, as QEMU's uint32 loop computes it (34! and beyond are 0 mod 2^32). */
export function eduFactorial(n: number): number {
  n >>>= 0;
  if (n >= 34) return 0;
  let r = 1;
  for (let i = 2; i <= n; i++) r = Math.imul(r, i) >>> 0;
  return r >>> 0;
}

/** The edu config-space declaration. */
export function eduDecl(): DeviceDecl {
  return {
    vendorId: EDU_VENDOR_ID,
    deviceId: EDU_DEVICE_ID,
    subsystemVendorId: 0x1af4,
    subsystemId: 0x1100,
    revision: EDU_REVISION,
    classCode: EDU_CLASS,
    interruptPin: 1,
    bars: [{ kind: 'mem32', size: EDU_BAR0_SIZE }],
    capabilities: [{ id: 'msi', offset: 0x40, vectors: 1, address64: true, perVectorMask: false }],
  };
}

/** QEMU's edu as a {@link DeviceModel}: serve it with `VfioUserServer.listen(path, new EduModel())`. */
export class EduModel implements DeviceModel {
  readonly config: DeviceDecl = eduDecl();
  readonly bars: Readonly<Partial<Record<number, BarHandler>>>;

  // Registers (QEMU's EduState).
  #addr4 = 0;
  #fact = 0;
  #status = 0;
  #irqStatus = 0;
  #dmaSrc = 0n;
  #dmaDst = 0n;
  #dmaCount = 0n;
  #dmaCmd = 0n;
  /** The 4 KiB DMA buffer. */
  readonly buffer = new Uint8Array(EDU_BUFFER_SIZE);

  readonly #completion: 'immediate' | 'sync' | number;
  readonly #dmaMask: bigint;
  #device: VirtualDevice | undefined;
  /** Bumped by reset: work scheduled before it is dropped. */
  #generation = 0;
  #dmaRunning: Promise<void> | undefined;
  /** The last DMA failure (cleared by a successful transfer and by reset). */
  lastDmaError: EduDmaFailure | undefined;
  /** Transfers done (successful or not), for tests. */
  dmaTransfers = 0;

  constructor(options: EduOptions = {}) {
    this.#completion = options.completion ?? 'immediate';
    this.#dmaMask = options.dmaMask ?? EDU_DMA_MASK;
    this.bars = {
      0: {
        read: (offset, dst) => this.#access(offset, dst, false),
        write: (offset, src) => this.#access(offset, src, true),
      },
    };
  }

  attach(device: VirtualDevice): void {
    this.#device = device;
  }

  reset(_reason: ResetReason): void {
    this.#generation++;
    this.#addr4 = 0;
    this.#fact = 0;
    this.#status = 0;
    this.#irqStatus = 0;
    this.#dmaSrc = this.#dmaDst = this.#dmaCount = this.#dmaCmd = 0n;
    this.buffer.fill(0);
    this.lastDmaError = undefined;
    this.#dmaRunning = undefined;
    // The framework has already deasserted INTx and disabled MSI.
  }

  /** Interrupt status bits now set. */
  get irqStatus(): number {
    return this.#irqStatus;
  }

  /** Resolves when the DMA transfer in progress (if any) has completed. */
  async idle(): Promise<void> {
    while (this.#dmaRunning) await this.#dmaRunning;
  }

  // ------------------------------------------------------------ bus side

  /** Cuts an access into the widest naturally aligned pieces of at most 8 bytes, each handled as QEMU would. */
  #access(offset: number, buf: Uint8Array, write: boolean): void {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let pos = 0;
    while (pos < buf.length) {
      const at = offset + pos;
      let size = 8;
      while (size > 1 && (at % size !== 0 || pos + size > buf.length)) size >>= 1;
      if (write) {
        const v =
          size === 8
            ? view.getBigUint64(pos, true)
            : BigInt(size === 4 ? view.getUint32(pos, true) : size === 2 ? view.getUint16(pos, true) : view.getUint8(pos));
        this.#write(at, size, v);
      } else {
        const v = this.#read(at, size);
        if (size === 8) view.setBigUint64(pos, v, true);
        else if (size === 4) view.setUint32(pos, Number(v & 0xffffffffn), true);
        else if (size === 2) view.setUint16(pos, Number(v & 0xffffn), true);
        else view.setUint8(pos, Number(v & 0xffn));
      }
      pos += size;
    }
  }

  /** Whether QEMU's memory core lets an access of `size` at `addr` reach edu (valid 4..8, aligned). */
  static accessValid(addr: number, size: number): boolean {
    return (size === 4 || size === 8) && addr % size === 0;
  }

  /**
   * A read of `size` bytes (1, 2, 4 or 8) at `addr`, as a CPU load would do
   * it: an unaligned access is cut into aligned pieces first.
   */
  mmioRead(addr: number, size: number): bigint {
    if (addr % size === 0) return this.#read(addr, size);
    const b = new Uint8Array(size);
    this.#access(addr, b, false);
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }

  /** A write of `size` bytes (1, 2, 4 or 8) of `value` at `addr` (unaligned: cut into aligned pieces). */
  mmioWrite(addr: number, size: number, value: bigint): void {
    if (addr % size === 0) {
      this.#write(addr, size, value);
      return;
    }
    const b = new Uint8Array(size);
    let v = BigInt.asUintN(size * 8, value);
    for (let i = 0; i < size; i++, v >>= 8n) b[i] = Number(v & 0xffn);
    this.#access(addr, b, true);
  }

  /** One aligned read (edu_mmio_read behind QEMU's access checks). */
  #read(addr: number, size: number): bigint {
    if (!EduModel.accessValid(addr, size)) return 0n; // unassigned_mem_read
    let val = ONES64;
    if (addr < 0x80 && size !== 4) return truncate(val, size);
    switch (addr) {
      case EduReg.ID:
        val = BigInt(EDU_ID_VALUE);
        break;
      case EduReg.LIVENESS:
        val = BigInt(this.#addr4);
        break;
      case EduReg.FACTORIAL:
        val = BigInt(this.#fact);
        break;
      case EduReg.STATUS:
        val = BigInt(this.#status);
        break;
      case EduReg.IRQ_STATUS:
        val = BigInt(this.#irqStatus);
        break;
      case EduReg.DMA_SRC:
        val = this.#dmaSrc;
        break;
      case EduReg.DMA_DST:
        val = this.#dmaDst;
        break;
      case EduReg.DMA_COUNT:
        val = this.#dmaCount;
        break;
      case EduReg.DMA_CMD:
        val = this.#dmaCmd;
        break;
    }
    return truncate(val, size);
  }

  /** One aligned write (edu_mmio_write behind QEMU's access checks). */
  #write(addr: number, size: number, value: bigint): void {
    if (!EduModel.accessValid(addr, size)) return; // unassigned_mem_write
    if (addr < 0x80 && size !== 4) return;
    const val = truncate(value, size);
    const v32 = Number(val & 0xffffffffn);
    const dmaBusy = (this.#dmaCmd & BigInt(EDU_DMA_RUN)) !== 0n;
    switch (addr) {
      case EduReg.LIVENESS:
        this.#addr4 = ~v32 >>> 0;
        break;
      case EduReg.FACTORIAL:
        if (this.#status & EDU_STATUS_COMPUTING) break;
        this.#fact = v32;
        this.#status |= EDU_STATUS_COMPUTING;
        this.#schedule(() => this.#factorialDone());
        break;
      case EduReg.STATUS:
        if (v32 & EDU_STATUS_IRQFACT) this.#status |= EDU_STATUS_IRQFACT;
        else this.#status &= ~EDU_STATUS_IRQFACT;
        break;
      case EduReg.IRQ_RAISE:
        this.raiseIrq(v32);
        break;
      case EduReg.IRQ_ACK:
        this.lowerIrq(v32);
        break;
      case EduReg.DMA_SRC:
        if (!dmaBusy) this.#dmaSrc = val;
        break;
      case EduReg.DMA_DST:
        if (!dmaBusy) this.#dmaDst = val;
        break;
      case EduReg.DMA_COUNT:
        if (!dmaBusy) this.#dmaCount = val;
        break;
      case EduReg.DMA_CMD:
        if ((val & BigInt(EDU_DMA_RUN)) === 0n || dmaBusy) break;
        this.#dmaCmd = val;
        this.#schedule(() => this.#startDma());
        break;
    }
  }

  // ------------------------------------------------------------ device side

  /** edu_raise_irq: status |= bits; if non-zero, MSI vector 0 when MSI is enabled, else INTx asserted. */
  raiseIrq(bits: number): void {
    this.#irqStatus = (this.#irqStatus | bits) >>> 0;
    if (this.#irqStatus === 0) return;
    const irq = this.#device?.irq;
    if (!irq) return;
    if (irq.mode === 'msi') irq.msi(0);
    else irq.setIntx(true);
  }

  /** edu_lower_irq: status &= ~bits; INTx deasserted when it reaches 0 (and MSI is not enabled). */
  lowerIrq(bits: number): void {
    this.#irqStatus = (this.#irqStatus & ~bits) >>> 0;
    const irq = this.#device?.irq;
    if (this.#irqStatus === 0 && irq && irq.mode !== 'msi') irq.setIntx(false);
  }

  #schedule(fn: () => void): void {
    const c = this.#completion;
    if (c === 'sync') {
      fn();
      return;
    }
    const gen = this.#generation;
    const run = (): void => {
      if (gen === this.#generation) fn();
    };
    if (c === 'immediate') setImmediate(run);
    else setTimeout(run, c);
  }

  #factorialDone(): void {
    this.#fact = eduFactorial(this.#fact);
    this.#status &= ~EDU_STATUS_COMPUTING;
    if (this.#status & EDU_STATUS_IRQFACT) this.raiseIrq(EDU_IRQ_FACTORIAL);
  }

  #startDma(): void {
    const gen = this.#generation;
    const p = this.#runDma(gen).finally(() => {
      if (this.#dmaRunning === p) this.#dmaRunning = undefined;
    });
    this.#dmaRunning = p;
  }

  /** edu_dma_timer: one transfer between the client's memory and the buffer, then completion. */
  async #runDma(gen: number): Promise<void> {
    const toRam = (this.#dmaCmd & BigInt(EDU_DMA_TO_RAM)) !== 0n;
    const count = this.#dmaCount;
    const eduAddr = toRam ? this.#dmaSrc : this.#dmaDst;
    const ramAddr = this.#clamp(toRam ? this.#dmaDst : this.#dmaSrc);
    let failure: EduDmaFailure | undefined;
    const start = BigInt(EDU_BUFFER_ADDR);
    const end = start + BigInt(EDU_BUFFER_SIZE);
    if (eduAddr < start || count > end - eduAddr) {
      failure = {
        kind: 'range',
        message: `edu: DMA range ${hex(eduAddr)}+${hex(count)} is outside the buffer ${hex(start)}-${hex(end - 1n)}: nothing transferred`,
      };
    } else if (count > 0n) {
      const off = Number(eduAddr - start);
      const part = this.buffer.subarray(off, off + Number(count));
      try {
        const dma = this.#device?.dma;
        if (!dma) throw new Error('edu: the model is not attached to a device');
        // Memory the server has mapped is copied at once; maps without a
        // descriptor travel as DMA_READ/DMA_WRITE messages to the client.
        if (dma.isDirect(ramAddr, part.length, toRam ? 'write' : 'read')) {
          if (toRam) dma.writeSync(ramAddr, part);
          else dma.readSync(ramAddr, part);
        } else if (toRam) await dma.write(ramAddr, part);
        else await dma.read(ramAddr, part);
      } catch (error) {
        failure = {
          kind: 'dma',
          message: `edu: DMA ${toRam ? 'to' : 'from'} RAM at ${hex(ramAddr)}+${hex(count)} failed: ${(error as Error).message}`,
          error,
        };
      }
    }
    if (gen !== this.#generation) return; // reset meanwhile
    this.dmaTransfers++;
    this.lastDmaError = failure;
    if (failure)
      this.#device?.warn({
        code: failure.kind === 'range' ? 'edu-dma-range' : 'edu-dma-failed',
        message: failure.message,
        cause: failure.error,
      });
    this.#dmaCmd &= ~BigInt(EDU_DMA_RUN);
    if (this.#dmaCmd & BigInt(EDU_DMA_WITH_IRQ)) this.raiseIrq(EDU_IRQ_DMA);
  }

  /** edu_clamp_addr: addr & dma_mask, with a warning when that changed it. */
  #clamp(addr: bigint): bigint {
    const res = U64(addr & this.#dmaMask);
    if (res !== addr) {
      this.#device?.warn({ code: 'edu-dma-clamped', message: `edu: clamping DMA ${hex(addr)} to ${hex(res)}` });
    }
    return res;
  }
}

function truncate(v: bigint, size: number): bigint {
  return size >= 8 ? U64(v) : BigInt.asUintN(size * 8, v);
}
