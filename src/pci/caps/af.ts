// PCI Advanced Features capability (conventional PCI's FLR).
//
// AF capabilities advertise Transactions Pending (TP) and Function Level
// Reset (FLR). Model (the kernel's init_pci_cap_af_perm/vfio_af_config_write):
// only the Initiate-FLR bit of AF Control is writable, and it is virtual;
// writing it resets the function when the capability advertises both FLR and
// TP, and it always reads back 0. Everything else is read-only.

import type { AccessSize } from '../backing.js';
import { capPerms, Region, type Engine, type RegionSpec } from '../region.js';
import {
  PCI_AF_CAP,
  PCI_AF_CAP_FLR,
  PCI_AF_CAP_TP,
  PCI_AF_CTRL,
  PCI_AF_CTRL_FLR,
  PCI_AF_LENGTH,
  PCI_CAP_AF_SIZEOF,
  PCI_CAP_ID_AF,
} from '../regs.js';
import { ImageWriter, type CapImage } from './image.js';

/** Declares an Advanced Features capability (FLR for conventional PCI). */
export interface AfDecl {
  id: 'af';
  offset?: number;
  /** FLR capable (default true). */
  flr?: boolean;
  /** Transactions Pending capable (default true). */
  tp?: boolean;
}

export function encodeAf(d: AfDecl): CapImage {
  let cap = 0;
  if (d.tp !== false) cap |= PCI_AF_CAP_TP;
  if (d.flr !== false) cap |= PCI_AF_CAP_FLR;
  const img = new ImageWriter(PCI_CAP_AF_SIZEOF).b(PCI_AF_LENGTH, PCI_CAP_AF_SIZEOF).b(PCI_AF_CAP, cap);
  return { id: PCI_CAP_ID_AF, extended: false, bytes: img.bytes, writable: img.writable, w1c: img.w1c };
}

export class AfRegion extends Region {
  constructor(engine: Engine, spec: RegionSpec) {
    const p = capPerms(spec);
    if (spec.length > PCI_AF_CTRL) p.setb(PCI_AF_CTRL, PCI_AF_CTRL_FLR, PCI_AF_CTRL_FLR);
    super(engine, spec, p);
  }

  /** FLR only happens when the function advertises both FLR and TP. */
  get flrCapable(): boolean {
    const cap = this.hwGet(PCI_AF_CAP, 1);
    return (cap & PCI_AF_CAP_FLR) !== 0 && (cap & PCI_AF_CAP_TP) !== 0;
  }

  override write(off: number, count: AccessSize, value: number): void {
    this.defaultWrite(off, count, value);
    if (this.length <= PCI_AF_CTRL) return;
    const ctl = this.shadowGet(PCI_AF_CTRL, 1);
    if (ctl & PCI_AF_CTRL_FLR) {
      this.shadowSet(PCI_AF_CTRL, 1, ctl & ~PCI_AF_CTRL_FLR);
      if (this.flrCapable) this.engine.functionReset('af-flr');
    }
  }
}
