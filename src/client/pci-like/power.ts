// Power management in the PCI-like view: PMCSR D-state writes.
//
// A bare-metal driver puts a function into D3hot by writing its PM
// capability's control/status register, and back into D0 the same way. The
// view passes these writes to the device's config space, which performs the
// transition on both backends (the kernel's vfio-pci traps PMCSR and calls
// pci_set_power_state; the vfio-user framework performs it for the model),
// then reads the state back. While the function is in D3hot the view refuses
// BAR access (EIO): on hardware memory accesses to a function in D3hot are
// not claimed. The return to D0 without No_Soft_Reset is a soft reset of the
// function: the view resets its interrupt emulation then (see ViewContext).
// Unsupported states (D1/D2 without the capability) are ignored by the
// device, so the state reads back unchanged.

import { PCI_PM_CTRL, PCI_PM_CTRL_NO_SOFT_RESET, PCI_PM_CTRL_STATE_MASK } from '../../pci/regs.js';
import { deviceRead, deviceWrite, type ConfigHandler, type ViewContext } from './registers.js';

export const D0 = 0;
export const D3HOT = 3;

export class PmCapability implements ConfigHandler {
  readonly name = 'PM';
  readonly cap: number;
  readonly start: number;
  readonly end: number;
  readonly #ctx: ViewContext;
  #state: number;

  constructor(ctx: ViewContext, cap: number) {
    this.#ctx = ctx;
    this.cap = cap;
    this.start = cap + PCI_PM_CTRL;
    this.end = cap + PCI_PM_CTRL + 4;
    this.#state = ctx.device.config.read16(this.start) & PCI_PM_CTRL_STATE_MASK;
  }

  /** The D-state the function is in (0 D0 .. 3 D3hot). */
  get state(): number {
    return this.#state;
  }

  read(offset: number, size: number): number {
    return deviceRead(this.#ctx.device.config, offset, size);
  }

  write(offset: number, size: number, value: number): void {
    deviceWrite(this.#ctx.device.config, offset, size, value);
    if (offset >= this.start + 2) return; // not PMCSR
    this.refresh();
  }

  /** Reads the state back from the device and reports a change. */
  refresh(): void {
    const pmcsr = this.#ctx.device.config.read16(this.start);
    const to = pmcsr & PCI_PM_CTRL_STATE_MASK;
    const from = this.#state;
    if (to === from) return;
    this.#state = to;
    this.#ctx.powerStateChanged(from, to, from === D3HOT && to === D0 && (pmcsr & PCI_PM_CTRL_NO_SOFT_RESET) === 0);
  }
}
