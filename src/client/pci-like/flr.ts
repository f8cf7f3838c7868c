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
import { deviceRead, deviceWrite, type ConfigHandler, type ViewContext } from './registers.js';

/** PCIe Device Control (2 bytes at capability + 8). */
export class PcieDeviceControl implements ConfigHandler {
  readonly name = 'PCIe Device Control';
  readonly start: number;
  readonly end: number;
  /** DEVCAP advertises Function Level Reset. */
  readonly flrCapable: boolean;
  readonly #ctx: ViewContext;

  constructor(ctx: ViewContext, cap: number) {
    this.#ctx = ctx;
    this.start = cap + PCI_EXP_DEVCTL;
    this.end = this.start + 2;
    this.flrCapable = (ctx.device.config.read32(cap + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR) !== 0;
  }

  read(offset: number, size: number): number {
    const flr = PCI_EXP_DEVCTL_BCR_FLR >>> ((offset - this.start) * 8);
    return (deviceRead(this.#ctx.device.config, offset, size) & ~flr) >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    const flr = (PCI_EXP_DEVCTL_BCR_FLR >>> ((offset - this.start) * 8)) & 0xffff;
    deviceWrite(this.#ctx.device.config, offset, size, value & ~flr);
    if ((value & flr) !== 0 && this.flrCapable) this.#ctx.functionReset('pcie-flr');
  }
}

/** Advanced Features Control (1 byte at capability + 4). */
export class AfControl implements ConfigHandler {
  readonly name = 'AF Control';
  readonly start: number;
  readonly end: number;
  /** The capability advertises FLR (and Transactions Pending, which the kernel requires too). */
  readonly flrCapable: boolean;
  readonly #ctx: ViewContext;

  constructor(ctx: ViewContext, cap: number) {
    this.#ctx = ctx;
    this.start = cap + PCI_AF_CTRL;
    this.end = this.start + 1;
    const caps = ctx.device.config.read8(cap + PCI_AF_CAP);
    this.flrCapable = (caps & PCI_AF_CAP_FLR) !== 0 && (caps & PCI_AF_CAP_TP) !== 0;
  }

  read(): number {
    return 0; // FLR reads 0; no other bit is defined
  }

  write(_offset: number, _size: number, value: number): void {
    if ((value & PCI_AF_CTRL_FLR) !== 0 && this.flrCapable) this.#ctx.functionReset('af-flr');
  }
}
