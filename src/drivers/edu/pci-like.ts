// The edu driver written a second time, bare-metal style, on the PCI-like
// model (src/client/pci-like/): it never calls the Driver API's interrupt or
// reset operations; it programs the function through its config space, as
// a driver for real hardware does, and the view turns those writes into the
// VFIO actions. Compare with driver.ts, the same device driven
// through the Driver API; both run on QEMU's edu through /dev/vfio and on our
// model through vfio-user (docs/pci-like.md).
//
//   probe:      check vendor/device, walk the capability list for MSI, turn on
//               memory decoding and bus mastering, INTx Disable set (quiet
//               until an interrupt scheme is chosen)
//   MSI:        write the message address and data into the MSI capability,
//               Multiple Message Enable 0 (one vector), then Enable: vector 0
//               is live, and each interrupt arrives carrying that message
//   INTx:       clear MSI Enable and INTx Disable; the interrupt handler
//               acknowledges edu's status register and that BAR write is the
//               end of interrupt (the view unmasks INTx)
//
// edu's registers (BAR0) are described in src/hw/edu.ts.

import type { Device } from '../../client/device.js';
import type { DmaBuffer } from '../../client/dma.js';
import { PciLikeDevice, type PciLikeInterrupt } from '../../client/pci-like/index.js';
import { fail } from '../../errors.js';
import { EDU_BUFFER_ADDR, EDU_BUFFER_SIZE, EDU_DMA_LIMIT } from '../../hw/edu.js';
import {
  PCI_CAP_ID_MSI,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_ENABLE,
  PCI_VENDOR_ID,
} from '../../pci/regs.js';
import { msiLayout, withMsiEnabledLog2 } from '../../pci/caps/msi-layout.js';
import { checkEduIds, EduDriverBase, type EduWaitOptions } from './engine.js';

/** An x86 MSI message (the local APIC's window, vector 0x41): any value works, the view carries it back. */
export const EDU_DEFAULT_MSI = { address: 0xfee00000n, data: 0x0041 } as const;

/** The edu driver written against the PCI-like view: MSI and INTx programmed through config space, as a bare-metal driver does (docs/pci-like.md). */
export class EduPciLikeDriver extends EduDriverBase {
  readonly pci: PciLikeDevice;
  /** Offset of the MSI capability. */
  readonly msiCap: number;
  /** The interrupts seen by waitInterrupt, last first (for tests and diagnostics). */
  lastInterrupt: PciLikeInterrupt | undefined;
  #scheme: 'msi' | 'intx' | null = null;
  #closed = false;

  /** Probes `device`: attaches the PCI-like view and sets the function up. */
  constructor(device: Device) {
    const { pci, msiCap } = probe(device);
    super(pci.bar(0));
    this.pci = pci;
    this.msiCap = msiCap;
    try {
      this.checkIdentification();
    } catch (err) {
      pci.close();
      throw err;
    }
  }

  /** Opens a device with `open` and probes it; the device is closed if probing fails. */
  static open(open: () => Device): EduPciLikeDriver {
    const dev = open();
    try {
      return new EduPciLikeDriver(dev);
    } catch (err) {
      dev.close();
      throw err;
    }
  }

  get device(): Device {
    return this.pci.device;
  }

  /** The interrupt scheme programmed: 'msi', 'intx' or null. */
  get scheme(): 'msi' | 'intx' | null {
    return this.#scheme;
  }

  // ------------------------------------------------------------ interrupt schemes, by config writes

  /** Programs and enables MSI (one vector) through the capability, INTx Disable set. */
  enableMsi(message: { address: bigint; data: number } = EDU_DEFAULT_MSI): void {
    this.live();
    const cfg = this.pci.config;
    const c = this.msiCap;
    const flags = cfg.read16(c + PCI_MSI_FLAGS);
    const at = msiLayout(flags);
    cfg.write16(PCI_COMMAND, cfg.read16(PCI_COMMAND) | PCI_COMMAND_INTX_DISABLE);
    cfg.write32(c + at.addressLo, Number(message.address & 0xffffffffn));
    if (at.addressHi !== undefined) cfg.write32(c + at.addressHi, Number(message.address >> 32n));
    cfg.write16(c + at.data, message.data);
    cfg.write16(c + PCI_MSI_FLAGS, withMsiEnabledLog2(flags, 0) | PCI_MSI_FLAGS_ENABLE);
    this.#scheme = 'msi';
  }

  /** Uses INTx: MSI Enable cleared, INTx Disable cleared. */
  enableIntx(): void {
    this.live();
    const cfg = this.pci.config;
    const c = this.msiCap;
    cfg.write16(c + PCI_MSI_FLAGS, cfg.read16(c + PCI_MSI_FLAGS) & ~PCI_MSI_FLAGS_ENABLE);
    cfg.write16(PCI_COMMAND, cfg.read16(PCI_COMMAND) & ~PCI_COMMAND_INTX_DISABLE);
    this.#scheme = 'intx';
  }

  /** No interrupts: MSI Enable cleared, INTx Disable set. */
  disableInterrupts(): void {
    if (this.#closed) return;
    const cfg = this.pci.config;
    cfg.write16(this.msiCap + PCI_MSI_FLAGS, cfg.read16(this.msiCap + PCI_MSI_FLAGS) & ~PCI_MSI_FLAGS_ENABLE);
    cfg.write16(PCI_COMMAND, cfg.read16(PCI_COMMAND) | PCI_COMMAND_INTX_DISABLE);
    this.#scheme = null;
  }

  // ------------------------------------------------------------ DMA

  /** `data` into edu's buffer at `eduOffset` by DMA and back into another buffer (completed by interrupts when a scheme is on); returns what came back. */
  async roundTrip(data: Uint8Array, eduOffset = 0, options: EduWaitOptions = {}): Promise<Uint8Array> {
    const count = data.length;
    if (count <= 0 || eduOffset < 0 || eduOffset + count > EDU_BUFFER_SIZE)
      throw fail('EINVAL', `DMA of ${count} bytes at ${eduOffset} leaves edu's buffer`);
    const out = this.device.allocDma(count, { limit: EDU_DMA_LIMIT, access: { read: true, write: false } });
    const back = this.device.allocDma(count, { limit: EDU_DMA_LIMIT });
    try {
      out.bytes.set(data);
      await this.#dma(out, EDU_BUFFER_ADDR + eduOffset, count, false, options);
      await this.#dma(back, EDU_BUFFER_ADDR + eduOffset, count, true, options);
      return back.bytes.slice(0, count);
    } finally {
      out.free();
      back.free();
    }
  }

  async #dma(buf: DmaBuffer, edu: number, count: number, toRam: boolean, o: EduWaitOptions): Promise<void> {
    const ram = Number(buf.iova);
    return this.dma(toRam ? edu : ram, toRam ? ram : edu, count, toRam, this.#scheme !== null, o);
  }

  // ------------------------------------------------------------ close

  /** Interrupts off, bus mastering off, view detached, device closed. Idempotent. */
  close(): void {
    if (this.#closed) return;
    try {
      if (!this.pci.closed) {
        this.disableInterrupts();
        this.pci.config.write16(PCI_COMMAND, this.pci.config.read16(PCI_COMMAND) & ~PCI_COMMAND_MASTER);
      }
    } finally {
      this.#closed = true;
      this.pci.close();
      this.device.close();
    }
  }

  // ------------------------------------------------------------ the base class's hooks

  protected live(): void {
    if (this.#closed) throw fail('ENODEV', 'edu: the driver is closed');
  }

  protected needInterrupts(): void {
    this.live();
    if (this.#scheme === null) throw fail('EINVAL', 'edu: choose an interrupt scheme first (enableMsi() or enableIntx())');
  }

  protected async nextInterrupt(timeoutMs: number): Promise<void> {
    this.lastInterrupt = await this.pci.waitInterrupt(0, timeoutMs);
  }

  /** The acknowledging BAR write ends an INTx; one that was not ours is ended anyway. */
  protected interruptHandled(status: number): void {
    if (status === 0 && this.pci.intxInService) this.pci.eoi();
  }
}

/** Attaches the PCI-like view and sets the function up: an edu with MSI, memory decoding and bus mastering on, INTx off. */
function probe(device: Device): { pci: PciLikeDevice; msiCap: number } {
  const pci = PciLikeDevice.attach(device);
  try {
    checkEduIds(pci.config.read16(PCI_VENDOR_ID), pci.config.read16(PCI_DEVICE_ID));
    const msiCap = pci.findCapability(PCI_CAP_ID_MSI);
    if (msiCap === undefined) throw fail('ENODEV', 'edu without an MSI capability');
    const cmd = pci.config.read16(PCI_COMMAND);
    pci.config.write16(PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    return { pci, msiCap };
  } catch (err) {
    pci.close();
    throw err;
  }
}
