// The type-0 configuration header (bytes 0x00..0x3f).
//
// Permission bits are the kernel's (init_pci_cap_basic_perm):
//   vendor/device ID       virtual, read-only
//   command                all bits writable; INTx-disable virtual, the rest
//                          written through to the backing
//   status                 read-only; Capabilities List virtual
//   cache line, latency,   writable through to the backing (which decides,
//   BIST                   like hardware, what sticks)
//   BAR0-5, ROM            virtual and writable, with sizing emulation
//   capability pointer     virtual, read-only
//   interrupt line         virtual, writable
//   interrupt pin          virtual, read-only
//   everything else        read-only from the backing (class, revision,
//                          header type, subsystem IDs, ...)
// BAR sizing: after every write touching a BAR, the shadow BAR is masked to
// its size and the type flags are put back (bars.ts); unimplemented BARs and
// an absent ROM read 0. A change of the command register's value is reported
// to the owner (onCommandChange).

import type { AccessSize } from './backing.js';
import { barFlags, barHighMask, barLowMask, barOffset, romKeepMask, type BarSpec } from './bars.js';
import { getLe, setLe } from './le.js';
import { ALL_VIRT, ALL_WRITE, NO_VIRT, NO_WRITE, PermBits } from './perms.js';
import { Region, touches, type Engine, type RegionSpec, type ResetKind } from './region.js';
import {
  PCI_BASE_ADDRESS_0,
  PCI_BIST,
  PCI_CACHE_LINE_SIZE,
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_DEVICE_ID,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_LATENCY_TIMER,
  PCI_ROM_ADDRESS,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STD_HEADER_SIZEOF,
  PCI_STD_NUM_BARS,
  PCI_VENDOR_ID,
} from './regs.js';

export function headerPerms(): PermBits {
  const p = new PermBits(PCI_STD_HEADER_SIZEOF);
  p.setw(PCI_VENDOR_ID, 0xffff, NO_WRITE);
  p.setw(PCI_DEVICE_ID, 0xffff, NO_WRITE);
  p.setw(PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 0xffff);
  p.setw(PCI_STATUS, PCI_STATUS_CAP_LIST, NO_WRITE);
  p.setb(PCI_CACHE_LINE_SIZE, NO_VIRT, 0xff);
  p.setb(PCI_LATENCY_TIMER, NO_VIRT, 0xff);
  p.setb(PCI_BIST, NO_VIRT, 0xff);
  for (let i = 0; i < PCI_STD_NUM_BARS; i++) p.setd(barOffset(i), ALL_VIRT, ALL_WRITE);
  p.setd(PCI_ROM_ADDRESS, ALL_VIRT, ALL_WRITE);
  p.setb(PCI_CAPABILITY_LIST, 0xff, NO_WRITE);
  p.setb(PCI_INTERRUPT_LINE, 0xff, 0xff);
  p.setb(PCI_INTERRUPT_PIN, 0xff, NO_WRITE);
  return p;
}

export class HeaderRegion extends Region {
  constructor(
    engine: Engine,
    spec: RegionSpec,
    readonly bars: readonly (BarSpec | undefined)[],
    readonly romSize: number | undefined,
  ) {
    super(engine, spec, headerPerms());
  }

  override reset(_kind: ResetKind): void {
    this.fixupBars();
  }

  get command(): number {
    return this.effective(PCI_COMMAND, 2);
  }

  override write(off: number, count: AccessSize, value: number): void {
    const cmdTouched = touches(off, count, PCI_COMMAND, 2);
    const before = cmdTouched ? this.command : 0;
    this.defaultWrite(off, count, value);
    if (touches(off, count, PCI_BASE_ADDRESS_0, PCI_STD_NUM_BARS * 4) || touches(off, count, PCI_ROM_ADDRESS, 4)) {
      this.fixupBars();
    }
    if (cmdTouched) {
      const after = this.command;
      if (after !== before) this.engine.hooks.onCommandChange?.(after, before);
    }
  }

  /** Make the shadow BARs what sizing hardware would hold: address bits above the size, plus flags. */
  fixupBars(): void {
    const sh = this.engine.shadow;
    for (let i = 0; i < PCI_STD_NUM_BARS; i++) {
      const off = barOffset(i);
      const b = this.bars[i];
      if (!b) {
        setLe(sh, off, 4, 0);
        continue;
      }
      setLe(sh, off, 4, ((getLe(sh, off, 4) & barLowMask(b)) | barFlags(b)) >>> 0);
      if (b.kind === 'mem64') {
        setLe(sh, off + 4, 4, (getLe(sh, off + 4, 4) & barHighMask(b)) >>> 0);
        i++;
      }
    }
    setLe(sh, PCI_ROM_ADDRESS, 4, this.romSize ? (getLe(sh, PCI_ROM_ADDRESS, 4) & romKeepMask(this.romSize)) >>> 0 : 0);
  }
}
