// Function level reset in the PCI-like view: PCIe Device Control's "Initiate
// Function Level Reset" and the Advanced Features capability's FLR bit.
//
// A bare-metal driver resets its function by writing 1 to one of these bits
// (when the capability advertises FLR); the bit always reads 0. The view turns
// the write into the Device's reset() (VFIO_DEVICE_RESET / DEVICE_RESET),
// which resets the function the way the backend can, then resets its own
// emulation (MSI and MSI-X off, every MSI-X entry masked, D0) and keeps the
// BAR programming the driver wrote (as the kernel restores it after a
// reset). The other Device Control bits go to the device's config space as
// written. A FLR bit written to a function whose capability does not
// advertise FLR is ignored, as hardware ignores it.

import {
  PCI_AF_CAP,
  PCI_AF_CAP_FLR,
  PCI_AF_CAP_TP,
  PCI_AF_CTRL,
  PCI_AF_CTRL_FLR,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_BCR_FLR,
} from '../../pci/regs.js';
import type { ResetSource } from '../../pci/region.js';
import { deviceRead, deviceWrite, type ConfigHandler, type ViewContext } from './registers.js';

/**
 * A control register with an "Initiate Function Level Reset" bit: the bit reads 0, and writing 1 resets the
 * function when the capability advertises FLR. The register's other bits pass to the device's config space
 * (`passOthers`) or, where none is defined, read 0 and drop writes.
 */
export class FlrControl implements ConfigHandler {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  /** The capability advertises Function Level Reset. */
  readonly flrCapable: boolean;
  readonly #ctx: ViewContext;
  readonly #flrBit: number;
  readonly #source: ResetSource;
  readonly #passOthers: boolean;

  constructor(
    ctx: ViewContext,
    spec: { name: string; start: number; length: number; flrBit: number; flrCapable: boolean; source: ResetSource; passOthers: boolean },
  ) {
    this.#ctx = ctx;
    this.name = spec.name;
    this.start = spec.start;
    this.end = spec.start + spec.length;
    this.flrCapable = spec.flrCapable;
    this.#flrBit = spec.flrBit;
    this.#source = spec.source;
    this.#passOthers = spec.passOthers;
  }

  /** The FLR bit as it falls in an access at `offset`. */
  #flrAt(offset: number): number {
    return (this.#flrBit >>> ((offset - this.start) * 8)) & 0xffff;
  }

  read(offset: number, size: number): number {
    if (!this.#passOthers) return 0;
    return (deviceRead(this.#ctx.device.config, offset, size) & ~this.#flrAt(offset)) >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    const flr = this.#flrAt(offset);
    if (this.#passOthers) deviceWrite(this.#ctx.device.config, offset, size, value & ~flr);
    if ((value & flr) !== 0 && this.flrCapable) this.#ctx.functionReset(this.#source);
  }
}

/** PCIe Device Control (2 bytes at capability + 8); its other bits are the device's. */
export function pcieDeviceControl(ctx: ViewContext, cap: number): FlrControl {
  const capable = (ctx.device.config.read32(cap + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR) !== 0;
  const start = cap + PCI_EXP_DEVCTL;
  return new FlrControl(ctx, {
    name: 'PCIe Device Control',
    start,
    length: 2,
    flrBit: PCI_EXP_DEVCTL_BCR_FLR,
    flrCapable: capable,
    source: 'pcie-flr',
    passOthers: true,
  });
}

/** Advanced Features Control (1 byte at capability + 4); FLR is its only bit. */
export function afControl(ctx: ViewContext, cap: number): FlrControl {
  const caps = ctx.device.config.read8(cap + PCI_AF_CAP);
  // Transactions Pending is required too, as the kernel requires it.
  const capable = (caps & PCI_AF_CAP_FLR) !== 0 && (caps & PCI_AF_CAP_TP) !== 0;
  const start = cap + PCI_AF_CTRL;
  return new FlrControl(ctx, {
    name: 'AF Control',
    start,
    length: 1,
    flrBit: PCI_AF_CTRL_FLR,
    flrCapable: capable,
    source: 'af-flr',
    passOthers: false,
  });
}
