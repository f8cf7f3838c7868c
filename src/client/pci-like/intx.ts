// INTx in the PCI-like view: the command register's INTx Disable bit and the
// interrupt pin, as bare-metal code sees them.
//
// On hardware a function with an interrupt pin asserts INTx whenever INTx
// Disable (command bit 10) is clear and neither MSI nor MSI-X is enabled. The
// view reproduces that with the Device's interrupt API: while those
// conditions hold (and the device has an interrupt pin and an INTx vector),
// INTx is the enabled mode; setting INTx Disable, or enabling MSI/MSI-X,
// takes it away. The command register itself (and the status register next
// to it, whose error bits are write-1-to-clear) is still read from and written
// to the device: memory decoding and bus mastering are the device's, and the
// backend keeps INTx Disable virtual (the kernel's virq_disabled).
//
// INTx is level-triggered: VFIO masks it when it fires. The view delivers it
// as an 'interrupt' event (kind 'intx', vector 0) and marks it in service;
// the driver then quiets the device (acknowledges the interrupt in its
// registers, through a BAR write) and the view unmasks INTx for it after that
// write, or when the driver calls eoi(). If the device still asserts the
// line, the backend fires again: the level semantics of hardware.

import { PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, PCI_INTERRUPT_PIN, PCI_STATUS } from '../../pci/regs.js';
import { pciIrq } from '../../uapi/vfio.js';
import { deviceRead, deviceWrite, type ConfigHandler, type ViewContext } from './registers.js';

/** The command and status registers (0x04-0x07): through to the device, with INTx Disable followed. */
export class CommandRegister implements ConfigHandler {
  readonly name = 'command/status';
  readonly start = PCI_COMMAND;
  readonly end = PCI_STATUS + 2;
  readonly #ctx: ViewContext;
  readonly #intx: IntxState;

  constructor(ctx: ViewContext, intx: IntxState) {
    this.#ctx = ctx;
    this.#intx = intx;
  }

  read(offset: number, size: number): number {
    return deviceRead(this.#ctx.device.config, offset, size);
  }

  write(offset: number, size: number, value: number): void {
    deviceWrite(this.#ctx.device.config, offset, size, value);
    if (offset > PCI_COMMAND + 1) return; // only the status register
    const disabled = (this.#ctx.device.config.read16(PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) !== 0;
    if (disabled !== this.#intx.disabled) {
      this.#intx.disabled = disabled;
      this.#ctx.applyInterruptMode();
    }
  }
}

/** INTx as the view emulates it. */
export class IntxState {
  /** The device has an interrupt pin and the backend an INTx vector with eventfds. */
  readonly available: boolean;
  /** The interrupt pin (0 none, 1-4 INTA-INTD). */
  readonly pin: number;
  /** INTx Disable as the command register reads. */
  disabled: boolean;
  /** An INTx was delivered and not yet unmasked. */
  inService = false;
  readonly #ctx: ViewContext;

  constructor(ctx: ViewContext) {
    this.#ctx = ctx;
    const dev = ctx.device;
    this.pin = dev.config.read8(PCI_INTERRUPT_PIN);
    let vectors = 0;
    let eventfd = false;
    if (pciIrq.INTX < dev.info.numIrqs) {
      const info = dev.irqInfo(pciIrq.INTX);
      vectors = info.count;
      eventfd = info.eventfd;
    }
    this.available = this.pin !== 0 && vectors >= 1 && eventfd;
    this.disabled = (dev.config.read16(PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) !== 0;
  }

  /** INTx should be the enabled mode when MSI and MSI-X are off. */
  get wanted(): boolean {
    return this.available && !this.disabled;
  }

  /** An INTx arrived: it is in service until unmasked. */
  signalled(): void {
    this.inService = true;
  }

  /** Unmasks INTx if one is in service (end of interrupt). */
  eoi(): void {
    if (!this.inService) return;
    this.inService = false;
    if (this.#ctx.activeMode?.kind === 'intx') this.#ctx.device.unmaskIntx();
  }

  /** The mode changed or the function was reset: nothing is in service. */
  reset(): void {
    this.inService = false;
  }
}
